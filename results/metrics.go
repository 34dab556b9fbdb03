package results

import (
	"math"
	"slices"
	"strings"
)

// Metric is a quantity read from a run: as a whole (what the bench table
// shows and --assert checks) and round by round (what compare tests and
// --gate gates). This one table defines every metric's name, unit and
// direction for every command.
type Metric struct {
	// Name is how users write it: "speedup", "cluster.p99".
	Name string
	// Unit is "x" (a ratio), "ms", "req/s", "%", or "" (a count or a
	// plain number).
	Unit string
	// HigherIsBetter tells which direction is a regression.
	HigherIsBetter bool
	// Compared marks the metrics compare reports even when they do not
	// gate.
	Compared bool
	// run reads the value of a standard arm and a cluster arm over the
	// run; round a round's (ok false: the round has none, like a speedup
	// without responses).
	run   func(std, cl *Arm) float64
	round func(rd *Round, std, cl *Arm) (v float64, ok bool)
}

// IsTime reports whether the metric is a time in milliseconds, whose
// values users write with units ("5s").
func (m Metric) IsTime() bool { return m.Unit == "ms" }

// Of returns the run's value: the median over the rounds for the
// speedup and for first and last responses, the value over every request
// for latencies, throughput and errors.
// It reads the run's standard arm and first cluster arm.
func (m Metric) Of(r *Run) float64 { return m.run(r.Standard(), r.Cluster()) }

// PerRound returns one value per round that has one, in order, of the
// run's standard arm and first cluster arm.
func (m Metric) PerRound(r *Run) []float64 {
	var v []float64
	for _, x := range m.Rounds(r, r.Standard(), r.Cluster()) {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	return v
}

// Rounds returns the value of every round of r for the standard arm std
// and the cluster arm cl, in order; NaN for a round that has none. A
// paired comparison pairs them by round.
func (m Metric) Rounds(r *Run, std, cl *Arm) []float64 {
	v := make([]float64, len(r.Rounds))
	for i := range r.Rounds {
		x, ok := m.round(&r.Rounds[i], std, cl)
		if !ok {
			x = math.NaN()
		}
		v[i] = x
	}
	return v
}

// sideMetrics are the metrics of each side, after the side's name.
var sideMetrics = []struct {
	name, unit     string
	higherIsBetter bool
	compared       bool
	of             func(Stats) float64
}{
	{"first", "ms", false, false, func(s Stats) float64 { return s.FirstMs }},
	{"last", "ms", false, true, func(s Stats) float64 { return s.LastMs }},
	{"p50", "ms", false, true, func(s Stats) float64 { return s.LatencyMs.P50 }},
	{"p90", "ms", false, false, func(s Stats) float64 { return s.LatencyMs.P90 }},
	{"p99", "ms", false, true, func(s Stats) float64 { return s.LatencyMs.P99 }},
	{"max", "ms", false, false, func(s Stats) float64 { return s.LatencyMs.Max }},
	{"throughput", "req/s", true, true, func(s Stats) float64 { return s.ThroughputRPS }},
	{"errors", "", false, false, func(s Stats) float64 { return float64(s.Errors) }},
	{"error_rate", "%", false, true, func(s Stats) float64 {
		if s.Requests == 0 {
			return 0
		}
		return 100 * float64(s.Errors) / float64(s.Requests)
	}},
}

// metrics is the table, in the order reports list it. The speedup and
// the "cluster." metrics read the run's first cluster arm, the
// "standard." ones its standard arm ([Run.Cluster], [Run.Standard]).
var metrics = func() []Metric {
	speedup := func(rd *Round, _, cl *Arm) (float64, bool) {
		s := rd.Side(cl.Name)
		return s.Speedup, s.Speedup > 0
	}
	ms := []Metric{
		{Name: "speedup", Unit: "x", HigherIsBetter: true, Compared: true,
			run: func(_, cl *Arm) float64 { return cl.Speedup.Median }, round: speedup},
		{Name: "efficiency", HigherIsBetter: true, Compared: true,
			run: func(_, cl *Arm) float64 { return cl.Speedup.Efficiency },
			round: func(rd *Round, std, cl *Arm) (float64, bool) {
				v, ok := speedup(rd, std, cl)
				return v * float64(std.Workers) / float64(cl.Workers), ok
			}},
	}
	for _, mode := range []string{Standard, Cluster} {
		arm := func(std, cl *Arm) *Arm {
			if mode == Standard {
				return std
			}
			return cl
		}
		for _, sm := range sideMetrics {
			ms = append(ms, Metric{
				Name: mode + "." + sm.name, Unit: sm.unit, HigherIsBetter: sm.higherIsBetter, Compared: sm.compared,
				run: func(std, cl *Arm) float64 { return sm.of(arm(std, cl).Stats) },
				round: func(rd *Round, std, cl *Arm) (float64, bool) {
					return sm.of(rd.Side(arm(std, cl).Name).Stats), true
				},
			})
		}
	}
	return ms
}()

// Metrics returns the metric table, in the order reports list it.
func Metrics() []Metric { return slices.Clone(metrics) }

// LookupMetric returns the metric called name.
func LookupMetric(name string) (Metric, bool) {
	i := slices.IndexFunc(metrics, func(m Metric) bool { return m.Name == name })
	if i < 0 {
		return Metric{}, false
	}
	return metrics[i], true
}

// MetricNames lists every metric's name, in table order.
func MetricNames() []string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.Name
	}
	return names
}

// MetricHelp describes the table in one line for help texts:
// "speedup, efficiency, or standard|cluster . first|last|...".
func MetricHelp() string {
	fields := make([]string, len(sideMetrics))
	for i, sm := range sideMetrics {
		fields[i] = sm.name
	}
	return "speedup, efficiency, or standard|cluster . " + strings.Join(fields, "|")
}
