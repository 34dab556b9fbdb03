package history

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/flipbench/flipbench/results"
)

// CheckOptions tune [Check].
type CheckOptions struct {
	// Gates are metrics checked besides [DefaultCheckGates], named as
	// results.ParseMetric reads them.
	Gates []string
	// MinChange is the smallest change, as a fraction, that fails a
	// check: a change point smaller than it is shown and passes. Zero
	// means 0.05.
	MinChange float64
	// Detect tunes the change-point detection.
	Detect DetectOptions
}

// DefaultCheckGates are the figures a history checks when none are
// named: the speedup, and of the standard and the compared arm the time
// of a request (the service time the server reports, else the last
// response), the throughput, the CPU time and peak memory a request
// costs and the error rate. A series of many runs on one kind of runner
// is its own control, so times and costs can gate, as they do in a
// paired comparison. A capacity run's are the capacity of the standard
// and the compared arm (a metric of no other kind of run).
var DefaultCheckGates = []string{"speedup", "time", "throughput", "cpu_per_request", "peak_rss", "error_rate", "capacity"}

// SeriesCheck is the verdict on one series.
type SeriesCheck struct {
	Series
	// ChangePoints are the series' change points, each named by the
	// first run after it.
	ChangePoints []NamedChange `json:"change_points"`
	// Since is, when the newest level is worse than the level before a
	// change point in the bad direction, the change point from whose
	// level it is worst; Steps the change points in the bad direction
	// from it on, ChangePct the change from the level before Since to the
	// newest level, in percent (0 from a level of 0). A regression that
	// lands in small steps adds up here, and a partial recovery leaves
	// the rest standing.
	Since     *NamedChange `json:"since,omitempty"`
	Steps     int          `json:"steps,omitempty"`
	ChangePct float64      `json:"change_pct,omitempty"`
	// Regressed is set when that change is at least MinChange (or any
	// rise from 0, as of an error rate).
	Regressed bool `json:"regressed"`
	// Gated is set for the series of the newest run's setup and branch:
	// only its regressions fail the check; the others' are shown (an old
	// runner's series, an abandoned branch's).
	Gated bool `json:"gated"`
}

// NamedChange is a change point and the run it starts with.
type NamedChange struct {
	ChangePoint
	Commit string `json:"commit"`
	Time   string `json:"time"`
	// Bad is set when the change is in the metric's bad direction.
	Bad bool `json:"bad"`
}

// CheckResult is what [Check] found.
type CheckResult struct {
	Runs      int           `json:"runs"`
	MinChange float64       `json:"min_change"`
	Series    []SeriesCheck `json:"series"`
}

// Failed lists the series that regressed, for the verdict line:
// "cluster.service rose by 31.2% at abc123456789 (main, cpus=2 ...)".
func (c *CheckResult) Failed() []string {
	var out []string
	for _, s := range c.Series {
		if !s.Regressed || !s.Gated {
			continue
		}
		change := fmt.Sprintf("rose by %.1f%%", s.ChangePct)
		switch {
		case s.Since.Before == 0:
			change = fmt.Sprintf("rose from 0 to %.3g", s.ChangePoints[len(s.ChangePoints)-1].After)
		case s.ChangePct < 0:
			change = fmt.Sprintf("fell by %.1f%%", -s.ChangePct)
		}
		steps := ""
		if s.Steps > 1 {
			steps = fmt.Sprintf(" in %d steps", s.Steps)
		}
		out = append(out, fmt.Sprintf("%s %s at %s%s (%s, %s)", s.Metric, change, shortCommit(s.Since.Commit), steps, s.Branch, s.Setup))
	}
	return out
}

// Plottable tells whether a series has two runs or more to draw.
func (c *CheckResult) Plottable() bool {
	for _, s := range c.Series {
		if len(s.Points) >= 2 {
			return true
		}
	}
	return false
}

// Check looks for change points in the gated metrics' series of entries
// (oldest first).
func Check(entries []Entry, opt CheckOptions) (*CheckResult, error) {
	opt.MinChange = cmp.Or(opt.MinChange, 0.05)
	res := &CheckResult{Runs: len(entries), MinChange: opt.MinChange, Series: []SeriesCheck{}}
	if len(entries) == 0 {
		return res, nil
	}
	names, err := checkedMetrics(entries[len(entries)-1].Run, opt.Gates)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		series, err := SeriesOf(entries, name)
		if err != nil {
			continue // a metric the newest run has but none of this window: nothing to check
		}
		newest := entries[len(entries)-1]
		for _, s := range series {
			sc := checkSeries(s, opt)
			sc.Gated = s.Setup == Setup(newest.Run) && s.Branch == newest.Branch
			res.Series = append(res.Series, sc)
		}
	}
	return res, nil
}

func checkSeries(s Series, opt CheckOptions) SeriesCheck {
	values := make([]float64, len(s.Points))
	for i, p := range s.Points {
		values[i] = p.Value
	}
	sc := SeriesCheck{Series: s}
	for _, cp := range Detect(values, opt.Detect) {
		p := s.Points[cp.Index]
		bad := cp.After > cp.Before != s.HigherIsBetter && cp.After != cp.Before
		sc.ChangePoints = append(sc.ChangePoints, NamedChange{ChangePoint: cp, Commit: p.Commit, Time: p.Time, Bad: bad})
	}
	n := len(sc.ChangePoints)
	if n == 0 {
		return sc
	}
	newest := sc.ChangePoints[n-1].After
	worst := -1
	for j, cp := range sc.ChangePoints {
		if cp.Bad && worse(newest, cp.Before, s.HigherIsBetter) &&
			(worst < 0 || !worse(cp.Before, sc.ChangePoints[worst].Before, s.HigherIsBetter)) {
			// The level before it is the best the newest falls from;
			// of equal ones the latest, after an earlier recovery.
			worst = j
		}
	}
	if worst < 0 {
		return sc // no change in the bad direction, or recovered from every one
	}
	since := sc.ChangePoints[worst]
	sc.Since = &since
	for _, cp := range sc.ChangePoints[worst:] {
		if cp.Bad {
			sc.Steps++
		}
	}
	if since.Before != 0 {
		sc.ChangePct = 100 * (newest/since.Before - 1)
	}
	// From none (errors), any rise is beyond the threshold.
	sc.Regressed = since.Before == 0 || math.Abs(sc.ChangePct) >= 100*opt.MinChange
	return sc
}

// checkedMetrics names the gated metrics of run, the newest: the
// defaults of its standard and primary arms, and gates.
func checkedMetrics(run *results.Run, gates []string) ([]string, error) {
	build := ""
	if run.Paired() {
		build = results.Head
	}
	// By their modes: "cluster.service" is the first cluster's in every
	// run, whatever its size or policy.
	arms := []string{results.Standard}
	if p := run.PrimaryIn(build); p != nil && p.Mode != results.Standard {
		arms = append(arms, p.Mode)
	}
	var out []string
	add := func(name string) {
		if _, err := run.Metric(name, build); err == nil && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, g := range DefaultCheckGates {
		switch g {
		case "speedup":
			add(g)
		case "time":
			for _, a := range arms {
				// The service time where the newest run's server
				// reported one, else the last response.
				if m, err := run.Metric(a+".service", build); err == nil && m.Of(run) > 0 {
					add(a + ".service")
				} else {
					add(a + ".last")
				}
			}
		default:
			for _, a := range arms {
				add(a + "." + g)
			}
		}
	}
	for _, g := range gates {
		if _, err := run.Metric(g, build); err != nil {
			return nil, fmt.Errorf("gate %s: %w", g, err)
		}
		add(g)
	}
	return out, nil
}

func shortCommit(s string) string { return s[:min(12, len(s))] }

// worse tells whether a is worse than b, for a metric of that direction.
func worse(a, b float64, higherIsBetter bool) bool {
	if higherIsBetter {
		return a < b
	}
	return a > b
}
