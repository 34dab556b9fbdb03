package results

import (
	"fmt"
	"slices"
	"strings"
)

// Arm returns the arm called name, nil if the run has none.
func (r *Run) Arm(name string) *Arm {
	for i := range r.Arms {
		if r.Arms[i].Name == name {
			return &r.Arms[i]
		}
	}
	return nil
}

// Standard returns the run's first standard arm: the baseline of its
// speedups. Nil for an empty run.
func (r *Run) Standard() *Arm { return r.firstIn(r.firstBuild(), Standard) }

// Primary returns the arm whose speedup is the run's: its first cluster
// arm, or its first queue arm when it measured no cluster (of the base
// build, in a paired run). Nil for an empty run.
func (r *Run) Primary() *Arm { return r.PrimaryIn(r.firstBuild()) }

// PrimaryIn is [Run.Primary] of build ("" for a run of one build).
func (r *Run) PrimaryIn(build string) *Arm {
	if a := r.firstIn(build, Cluster); a != nil {
		return a
	}
	return r.firstIn(build, Queue)
}

func (r *Run) firstBuild() string {
	if len(r.Arms) == 0 {
		return ""
	}
	return r.Arms[0].Build
}

// firstIn is the first arm of mode in build.
func (r *Run) firstIn(build, mode string) *Arm {
	for i := range r.Arms {
		if r.Arms[i].Mode == mode && r.Arms[i].Build == build {
			return &r.Arms[i]
		}
	}
	return nil
}

// ArmIn returns the arm of build ("" for a run of one build) called name
// within it, or, when none is, the first arm of the mode called name:
// "cluster" is the first cluster of a run that measured several sizes.
// Nil if there is neither.
func (r *Run) ArmIn(build, name string) *Arm {
	if a := r.Arm(BuildArmName(build, name)); a != nil && a.Build == build {
		return a
	}
	return r.firstIn(build, name)
}

// Metric resolves a metric's name ([ParseMetric]) against the arms of
// build ("" for a run of one build): "speedup" and "efficiency" are the
// primary arm's ([Run.PrimaryIn]); ARM.FIELD reads the arm ARM names
// ([Run.ArmIn]). The metric's Name is the same for the same figure
// however it was asked for: "speedup" for the primary arm's, else the
// arm's own name and the field ("cluster/2w.p99").
func (r *Run) Metric(name, build string) (Metric, error) {
	parsed, err := ParseMetric(name, false)
	if err != nil {
		return Metric{}, err
	}
	armName, fieldName, f := parsed.Arm, parsed.Field, parsed.f
	primary := r.PrimaryIn(build)
	a := primary
	if armName != "" {
		a = r.ArmIn(build, armName)
	}
	switch {
	case a == nil && armName == "":
		return Metric{}, fmt.Errorf("%w %q: the run has no cluster or queue arm (its arms: %s)", ErrUnknownMetric, name, strings.Join(r.armNames(build), ", "))
	case a == nil:
		return Metric{}, fmt.Errorf("%w %q: the run has no arm %s (its arms: %s)", ErrUnknownMetric, name, armName, strings.Join(r.armNames(build), ", "))
	case f.scaled && !Scaled(a.Mode):
		return Metric{}, fmt.Errorf("%w %q: %s is not measured against a standard arm: it has no %s", ErrUnknownMetric, name, a.Name, fieldName)
	case f.capacity && !r.Capacity():
		return Metric{}, fmt.Errorf("%w %q: %s is a capacity run's (bench --capacity)", ErrUnknownMetric, name, fieldName)
	case !f.capacity && r.Capacity():
		return Metric{}, fmt.Errorf("%w %q: a capacity run holds no bursts; its metrics are ARM.capacity and capacity_speedup", ErrUnknownMetric, name)
	}
	within := strings.TrimPrefix(a.Name, BuildArmName(build, ""))
	if f.scaled && a == primary {
		return f.metric(fieldName, within, build), nil
	}
	return f.metric(within+"."+fieldName, within, build), nil
}

// armNames are the names of build's arms, within it.
func (r *Run) armNames(build string) []string {
	var names []string
	for _, a := range r.Arms {
		if a.Build == build {
			names = append(names, strings.TrimPrefix(a.Name, BuildArmName(build, "")))
		}
	}
	return names
}

// Metrics lists the metrics of build's arms ("" for a run of one build),
// each once and named as [Run.Metric] names it: the speedup and the
// efficiency, then every field of each arm, in the arms' order.
func (r *Run) Metrics(build string) []Metric {
	var out []Metric
	for _, name := range append([]string{speedupName, efficiencyName}, r.armNames(build)...) {
		for _, f := range fields {
			full := name
			if name != speedupName && name != efficiencyName {
				full = name + "." + f.name
			} else if f.name != name {
				continue
			}
			m, err := r.Metric(full, build)
			if err == nil && !slices.ContainsFunc(out, func(o Metric) bool { return o.Name == m.Name }) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Paired reports whether the run is a paired A/B bench: arms of a base
// and a head build, measured in the same rounds.
func (r *Run) Paired() bool {
	return len(r.Config.Builds) == 2
}

// Pair is an arm of the head build of a paired run and its counterpart,
// of the same name, in the base build.
type Pair struct {
	// Name is the arms' name within their build: "standard", "cluster",
	// "queue/2w".
	Name       string
	Base, Head *Arm
}

// Pairs returns the pairs of a paired A/B run, in the head arms' order:
// standard arms, clusters and queues alike.
func (r *Run) Pairs() []Pair {
	var out []Pair
	for i := range r.Arms {
		h := &r.Arms[i]
		if h.Build != Head {
			continue
		}
		name := strings.TrimPrefix(h.Name, Head+"/")
		if b := r.Arm(BuildArmName(Base, name)); b != nil {
			out = append(out, Pair{Name: name, Base: b, Head: h})
		}
	}
	return out
}

// Scaled returns the arms measured against a standard arm (clusters and
// queues), in order.
func (r *Run) Scaled() []*Arm {
	var v []*Arm
	for i := range r.Arms {
		if Scaled(r.Arms[i].Mode) {
			v = append(v, &r.Arms[i])
		}
	}
	return v
}

// Clusters returns the cluster arms, in order.
func (r *Run) Clusters() []*Arm {
	var v []*Arm
	for i := range r.Arms {
		if r.Arms[i].Mode == Cluster {
			v = append(v, &r.Arms[i])
		}
	}
	return v
}

// Speedups returns the speedup of every round that has one at the arm
// called name, in order.
func (r *Run) Speedups(name string) []float64 {
	v := []float64{}
	for i := range r.Rounds {
		if s := r.Rounds[i].Side(name); s != nil && s.Speedup > 0 {
			v = append(v, s.Speedup)
		}
	}
	return v
}
