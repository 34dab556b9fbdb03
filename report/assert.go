package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flipbench/flipbench/loadgen"
)

// Assertion is an absolute check on a bench run, k6-style:
// "speedup>=1.6", "cluster.p99<=5s", "cluster.errors==0".
type Assertion struct {
	Text   string
	Metric string
	Op     string
	Value  float64 // in the metric's unit: ms for times
}

// assertMetrics maps the names an assertion may use to a run's values:
// the medians over its rounds, as the bench table shows them.
var assertMetrics = func() map[string]func(*loadgen.BenchRun) float64 {
	m := map[string]func(*loadgen.BenchRun) float64{
		"speedup":    func(r *loadgen.BenchRun) float64 { return r.Speedup.Median },
		"efficiency": func(r *loadgen.BenchRun) float64 { return r.Speedup.Efficiency },
	}
	for i, mode := range []string{loadgen.ModeStandard, loadgen.ModeCluster} {
		get := func(f func(loadgen.Stats) float64) func(*loadgen.BenchRun) float64 {
			return func(r *loadgen.BenchRun) float64 {
				if i >= len(r.Modes) {
					return 0
				}
				return f(r.Modes[i].Stats)
			}
		}
		m[mode+".first"] = get(func(s loadgen.Stats) float64 { return s.FirstMs })
		m[mode+".last"] = get(func(s loadgen.Stats) float64 { return s.LastMs })
		m[mode+".p50"] = get(func(s loadgen.Stats) float64 { return s.LatencyMs.P50 })
		m[mode+".p90"] = get(func(s loadgen.Stats) float64 { return s.LatencyMs.P90 })
		m[mode+".p99"] = get(func(s loadgen.Stats) float64 { return s.LatencyMs.P99 })
		m[mode+".max"] = get(func(s loadgen.Stats) float64 { return s.LatencyMs.Max })
		m[mode+".throughput"] = get(func(s loadgen.Stats) float64 { return s.ThroughputRPS })
		m[mode+".errors"] = get(func(s loadgen.Stats) float64 { return float64(s.Errors) })
	}
	return m
}()

// isTime reports whether a metric is a time, whose values take units.
func isTime(metric string) bool {
	_, field, _ := strings.Cut(metric, ".")
	switch field {
	case "first", "last", "p50", "p90", "p99", "max":
		return true
	}
	return false
}

// ParseAssertion parses METRIC OP VALUE, with OP one of >=, <=, >, <, ==
// and, for times, VALUE a duration ("5s", "800ms").
func ParseAssertion(s string) (Assertion, error) {
	text := strings.ReplaceAll(s, " ", "")
	for _, op := range []string{">=", "<=", "==", ">", "<"} {
		metric, value, ok := strings.Cut(text, op)
		if !ok {
			continue
		}
		if _, known := assertMetrics[metric]; !known {
			return Assertion{}, fmt.Errorf("assertion %q: unknown metric %q (want speedup, efficiency, or MODE.first|last|p50|p90|p99|max|throughput|errors)", s, metric)
		}
		a := Assertion{Text: s, Metric: metric, Op: op}
		if isTime(metric) {
			d, err := time.ParseDuration(value)
			if err != nil {
				return Assertion{}, fmt.Errorf("assertion %q: %s is a time: want a duration like 5s or 800ms", s, metric)
			}
			a.Value = float64(d) / float64(time.Millisecond)
			return a, nil
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(value, "x"), 64)
		if err != nil {
			return Assertion{}, fmt.Errorf("assertion %q: want a number after %s", s, op)
		}
		a.Value = v
		return a, nil
	}
	return Assertion{}, fmt.Errorf("assertion %q: want METRIC OP VALUE, like speedup>=1.6 or cluster.p99<=5s", s)
}

// CheckResult is an assertion evaluated on a run.
type CheckResult struct {
	Assertion string  `json:"assertion"`
	Actual    float64 `json:"actual"`
	Pass      bool    `json:"pass"`
}

// Check evaluates the assertions on run.
func Check(run *loadgen.BenchRun, as []Assertion) []CheckResult {
	out := make([]CheckResult, len(as))
	for i, a := range as {
		v := assertMetrics[a.Metric](run)
		var pass bool
		switch a.Op {
		case ">=":
			pass = v >= a.Value
		case "<=":
			pass = v <= a.Value
		case ">":
			pass = v > a.Value
		case "<":
			pass = v < a.Value
		case "==":
			pass = v == a.Value
		}
		out[i] = CheckResult{Assertion: a.Text, Actual: v, Pass: pass}
	}
	return out
}

// WriteChecks prints one line per check: "PASS speedup>=1.6 (1.98)".
func WriteChecks(w io.Writer, as []Assertion, results []CheckResult) error {
	for i, r := range results {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		actual := fmt.Sprintf("%.3g", r.Actual)
		if isTime(as[i].Metric) {
			actual = Duration(r.Actual)
		}
		if _, err := fmt.Fprintf(w, "%s %s (actual %s)\n", verdict, r.Assertion, actual); err != nil {
			return err
		}
	}
	return nil
}
