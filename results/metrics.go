package results

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Metric is a figure read from a run, by name: one arm's ("cluster.p99",
// "queue/2w.last", "standard.throughput"), or the run's speedup and
// efficiency, its primary arm's ([Run.Primary]). Every command that
// asserts, gates or compares a figure reads it through this one table of
// fields, which gives each its unit and direction.
type Metric struct {
	// Name is how it is written: "speedup", "cluster.p99",
	// "cluster/4w/rr.last".
	Name string
	// Arm is the name of the arm it reads, within its build in a paired
	// run ("cluster", not "head/cluster"); Field what it reads of it
	// ("p99", "speedup").
	Arm, Field string
	// Unit is "x" (a ratio), "ms", "req/s", "%", "MiB", or "" (a
	// count or a plain number).
	Unit string
	// HigherIsBetter tells which direction is a regression.
	HigherIsBetter bool
	// Compared marks the metrics compare reports even when they do not
	// gate.
	Compared bool

	f     *field
	build string // the build Arm is in: "" for a run of one build
}

// field is what a metric reads of an arm: over the run, and round by
// round (ok false: the round has none, like a speedup without responses).
type field struct {
	name, unit     string
	higherIsBetter bool
	compared       bool
	// scaled marks the fields only an arm measured against a standard
	// arm has (speedup, efficiency); capacity those of a capacity run.
	scaled, capacity bool
	run              func(r *Run, a *Arm) float64
	round            func(r *Run, rd *Round, a *Arm) (float64, bool)
}

// statField is a field of an arm's stats: the medians over the rounds of
// first and last responses, the figures over every request of the rest.
func statField(name, unit string, higherIsBetter, compared bool, of func(Stats) float64) field {
	return field{name: name, unit: unit, higherIsBetter: higherIsBetter, compared: compared,
		run:   func(_ *Run, a *Arm) float64 { return of(a.Stats) },
		round: func(_ *Run, rd *Round, a *Arm) (float64, bool) { return of(rd.Side(a.Name).Stats), true },
	}
}

// fields lists what a metric can read of an arm, in the order reports
// list them.
var fields = []field{
	{name: "speedup", unit: "x", higherIsBetter: true, compared: true, scaled: true,
		run:   func(_ *Run, a *Arm) float64 { return a.Speedup.Median },
		round: roundSpeedup},
	{name: "efficiency", higherIsBetter: true, compared: true, scaled: true,
		run: func(_ *Run, a *Arm) float64 { return a.Speedup.Efficiency },
		round: func(r *Run, rd *Round, a *Arm) (float64, bool) {
			v, ok := roundSpeedup(r, rd, a)
			return v * float64(baselineWorkers(r, a)) / float64(a.Workers), ok
		}},
	statField("first", "ms", false, false, func(s Stats) float64 { return s.FirstMs }),
	statField("last", "ms", false, true, func(s Stats) float64 { return s.LastMs }),
	statField("p50", "ms", false, true, func(s Stats) float64 { return s.LatencyMs.P50 }),
	statField("p90", "ms", false, false, func(s Stats) float64 { return s.LatencyMs.P90 }),
	statField("p99", "ms", false, true, func(s Stats) float64 { return s.LatencyMs.P99 }),
	statField("max", "ms", false, false, func(s Stats) float64 { return s.LatencyMs.Max }),
	statField("throughput", "req/s", true, true, func(s Stats) float64 { return s.ThroughputRPS }),
	{name: "service", unit: "ms", compared: true,
		run: func(_ *Run, a *Arm) float64 { return a.JobMs },
		round: func(_ *Run, rd *Round, a *Arm) (float64, bool) {
			if a.JobMsRefused {
				return 0, false
			}
			v := rd.Side(a.Name).jobMs()
			return v, v > 0
		}},
	{name: "cpu_per_request", unit: "ms", compared: true,
		run: func(_ *Run, a *Arm) float64 { return a.CPUPerRequestMs },
		round: func(_ *Run, rd *Round, a *Arm) (float64, bool) {
			s := rd.Side(a.Name)
			return s.CPUPerRequestMs, s.CPUPerRequestMs > 0
		}},
	{name: "peak_rss", unit: "MiB", compared: true,
		run: func(_ *Run, a *Arm) float64 { return a.PeakRSSMB },
		round: func(_ *Run, rd *Round, a *Arm) (float64, bool) {
			s := rd.Side(a.Name)
			if s.Cost == nil || s.Cost.PeakRSSMB <= 0 {
				return 0, false
			}
			return s.Cost.PeakRSSMB, true
		}},
	// A capacity run's: one search an arm, no rounds.
	{name: "capacity", unit: "req/s", higherIsBetter: true, compared: true, capacity: true,
		run:   func(_ *Run, a *Arm) float64 { return a.CapacityRate() },
		round: noRounds},
	{name: "capacity_speedup", unit: "x", higherIsBetter: true, compared: true, scaled: true, capacity: true,
		run: func(_ *Run, a *Arm) float64 {
			if a.Capacity == nil {
				return 0
			}
			return a.Capacity.Speedup
		},
		round: noRounds},
	statField("errors", "", false, false, func(s Stats) float64 { return float64(s.Errors) }),
	statField("error_rate", "%", false, true, func(s Stats) float64 {
		if s.Requests == 0 {
			return 0
		}
		return 100 * float64(s.Errors) / float64(s.Requests)
	}),
}

// noRounds is the per-round value of a capacity run's field: none.
func noRounds(*Run, *Round, *Arm) (float64, bool) { return 0, false }

// IsCapacity reports whether the metric is a capacity run's.
func (m Metric) IsCapacity() bool { return m.f != nil && m.f.capacity }

func roundSpeedup(_ *Run, rd *Round, a *Arm) (float64, bool) {
	s := rd.Side(a.Name)
	return s.Speedup, s.Speedup > 0
}

func baselineWorkers(r *Run, a *Arm) int {
	if b := r.Arm(a.Baseline); b != nil {
		return b.Workers
	}
	return 1
}

func lookupField(name string) *field {
	i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
	if i < 0 {
		return nil
	}
	return &fields[i]
}

// The run's own metrics, its primary arm's.
const (
	speedupName    = "speedup"
	efficiencyName = "efficiency"
)

func (f *field) metric(name, arm, build string) Metric {
	return Metric{Name: name, Arm: arm, Field: f.name, Unit: f.unit, HigherIsBetter: f.higherIsBetter, Compared: f.compared, f: f, build: build}
}

// IsTime reports whether the metric is a time in milliseconds, whose
// values users write with units ("5s").
func (m Metric) IsTime() bool { return m.Unit == "ms" }

// Of returns the metric's value over the run r: the median over the
// rounds for the speedup and for first and last responses, the value
// over every request for latencies, throughput and errors. m must come
// from r ([Run.Metric]).
func (m Metric) Of(r *Run) float64 { return m.f.run(r, r.Arm(BuildArmName(m.build, m.Arm))) }

// Rounds returns the metric's value of arm a (an arm of r: the arm it
// names, or its counterpart in another build or another run) in every
// round of r, in order; NaN for a round that has none. A paired
// comparison pairs them by round.
func (m Metric) Rounds(r *Run, a *Arm) []float64 {
	v := make([]float64, len(r.Rounds))
	for i := range r.Rounds {
		x, ok := m.f.round(r, &r.Rounds[i], a)
		if !ok {
			x = math.NaN()
		}
		v[i] = x
	}
	return v
}

// PerRound returns the value of arm a in each round of r that has one,
// in order.
func (m Metric) PerRound(r *Run, a *Arm) []float64 {
	return slices.DeleteFunc(m.Rounds(r, a), math.IsNaN)
}

// ErrUnknownMetric is wrapped by [ParseMetric] and [Run.Metric] for a
// name that is not a metric, or not one of the run's.
var ErrUnknownMetric = errors.New("unknown metric")

// ParseMetric reads a metric's name before there is a run to read it
// from: "speedup", "efficiency" or ARM.FIELD, with a field of
// [MetricHelp]; with bare, a FIELD alone too (a gate on it names the
// field of every compared arm). Its Arm is as written ("" for the run's
// own, or a mode's name); [Run.Metric] resolves it against a run.
func ParseMetric(name string, bare bool) (Metric, error) {
	arm, fieldName, dotted := strings.Cut(name, ".")
	if !dotted {
		arm, fieldName = "", name
	}
	f := lookupField(fieldName)
	switch {
	case f == nil, dotted && arm == "":
		return Metric{}, fmt.Errorf("%w %q (want %s)", ErrUnknownMetric, name, MetricHelp())
	case !dotted && !bare && !f.scaled:
		return Metric{}, fmt.Errorf("%w %q: name its arm, like standard.%s or cluster.%s", ErrUnknownMetric, name, fieldName, fieldName)
	}
	return f.metric(name, arm, ""), nil
}

// MetricNames lists the metrics of a run with a standard, a cluster and a
// queue arm, each called after its mode (completions, help): speedup,
// efficiency, then every field of each.
func MetricNames() []string {
	names := []string{speedupName, efficiencyName}
	for _, mode := range []string{Standard, Cluster, Queue} {
		for _, f := range fields {
			if !f.scaled || mode != Standard {
				names = append(names, mode+"."+f.name)
			}
		}
	}
	return names
}

// MetricHelp describes the metrics in one line for help texts.
func MetricHelp() string {
	var names []string
	for _, f := range fields {
		if !f.scaled {
			names = append(names, f.name)
		}
	}
	return "speedup, efficiency, or ARM.FIELD with ARM standard, cluster or queue (the first of its kind) or an arm's name (cluster/4w/rr), and FIELD " +
		strings.Join(names, "|") + "|speedup|efficiency"
}
