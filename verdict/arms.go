package verdict

import (
	"fmt"
	"strings"

	"github.com/flipbench/flipbench/results"
)

// side is what a comparison reads of one run (two runs), or of one build
// of a paired run: its standard arm, and its primary arm, whose speedup
// is the run's ([results.Run.PrimaryIn]).
type side struct {
	run          *results.Run
	build        string // "" for a run of one build
	std, primary *results.Arm
}

// sideOf is the side of build in r; of a paired run read as one of two
// runs (build ""), its base build, as its first arms are.
func sideOf(r *results.Run, build, name string) (side, error) {
	if build == "" && len(r.Arms) > 0 {
		build = r.Arms[0].Build
	}
	p := r.PrimaryIn(build)
	if p == nil || r.Arm(p.Baseline) == nil {
		return side{}, fmt.Errorf("%s: no cluster or queue arm with its standard arm to compare: %w", name, ErrIncomparable)
	}
	return side{run: r, build: build, std: r.Arm(p.Baseline), primary: p}, nil
}

// within is a's name within its build: "cluster", not "head/cluster".
func (s side) within(a *results.Arm) string {
	return strings.TrimPrefix(a.Name, results.BuildArmName(s.build, ""))
}

// counterpart is the arm of s that stands where the arm called name (a
// metric's Arm) stands in other: the standard and the primary arm by
// their role, whatever they are called, and any other arm by its name.
// Nil if s has none.
func (s side) counterpart(other side, name string) *results.Arm {
	switch name {
	case other.within(other.std):
		return s.std
	case other.within(other.primary):
		return s.primary
	}
	return s.run.ArmIn(s.build, name)
}

// gated resolves gates against s's arms: the names of the metrics they
// gate ([results.Run.Metric]). A field alone ("p99") gates the standard
// and the primary arm's; "speedup" and "efficiency" are the run's own.
func (s side) gated(gates []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, g := range gates {
		names := []string{g}
		if g == TimeGate {
			names = []string{s.timeOf(s.std), s.timeOf(s.primary)}
		} else if p, _ := results.ParseMetric(g, true); p.Arm == "" {
			if _, err := s.run.Metric(g, s.build); err != nil { // a field of every compared arm
				names = []string{s.within(s.std) + "." + p.Field, s.within(s.primary) + "." + p.Field}
			}
		}
		for _, n := range names {
			m, err := s.run.Metric(n, s.build)
			if err != nil {
				return nil, fmt.Errorf("gate %s: %w", g, err)
			}
			out[m.Name] = true
		}
	}
	return out, nil
}

// timeOf names the time figure of arm a that [TimeGate] gates: its
// service time, when its server reported one in every round, else its
// last response.
func (s side) timeOf(a *results.Arm) string {
	name := s.within(a) + ".service"
	if m, err := s.run.Metric(name, s.build); err == nil && len(m.PerRound(s.run, a)) == len(s.run.Rounds) {
		return name
	}
	return s.within(a) + ".last"
}

// metrics are those compared: the run's speedup and efficiency, the
// compared fields of its standard and primary arms, and the gated ones,
// in the order of the run's metric table.
func (s side) metrics(gated map[string]bool) []results.Metric {
	var out []results.Metric
	for _, m := range s.run.Metrics(s.build) {
		ours := m.Arm == s.within(s.std) || m.Arm == s.within(s.primary)
		if m.Compared && ours || gated[m.Name] {
			out = append(out, m)
		}
	}
	return out
}

// note says, for a run that measured several clusters, which one the
// comparison reads (one of two runs: its first; a paired run: the first
// of each build's).
func (s side) note(name string, paired bool) string {
	n := 0
	for _, a := range s.run.Clusters() {
		if a.Build == s.build {
			n++
		}
	}
	switch {
	case n < 2:
		return ""
	case paired:
		return fmt.Sprintf("%s measured %d clusters a build; compared: the first, %s", name, n, s.within(s.primary))
	}
	return fmt.Sprintf("%s measured %d clusters; compared: its first, %s", name, n, s.primary.Name)
}
