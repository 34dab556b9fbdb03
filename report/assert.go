package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/flipbench/flipbench/results"
)

// Assertion is an absolute check on a bench run, k6-style:
// "speedup>=1.6", "cluster.p99<=5s", "cluster.errors==0".
type Assertion struct {
	Text   string
	Metric string
	Op     string
	Value  float64 // in the metric's unit: ms for times

	time bool // the metric is a time, in ms
}

// ResolveAssertions checks, before a bench runs, that the metric of each
// assertion is one of a run of arms (a mode's name is its first arm),
// a capacity run's when slos are given.
func ResolveAssertions(as []Assertion, arms []results.ArmSpec, slos []string) error {
	if len(arms) == 0 {
		return nil
	}
	probe := &results.Run{Config: results.RunConfig{SLOs: slos}}
	for _, a := range arms {
		probe.Arms = append(probe.Arms, results.Arm{ArmSpec: a})
	}
	for _, a := range as {
		if _, err := probe.Metric(a.Metric, arms[0].Build); err != nil {
			return fmt.Errorf("assertion %q: %w", a.Text, err)
		}
	}
	return nil
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
		m, err := results.ParseMetric(metric, false)
		if err != nil {
			return Assertion{}, fmt.Errorf("assertion %q: %w", s, err)
		}
		a := Assertion{Text: s, Metric: metric, Op: op, time: m.IsTime()}
		if m.IsTime() {
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

// Check evaluates the assertions on run (of a paired run, on its base
// build). An assertion whose metric the run does not have fails, with NaN
// as its value.
func Check(run *results.Run, as []Assertion) []CheckResult {
	out := make([]CheckResult, len(as))
	for i, a := range as {
		v := math.NaN()
		if m, err := run.Metric(a.Metric, run.Arms[0].Build); err == nil {
			v = m.Of(run)
		}
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
func WriteChecks(w io.Writer, as []Assertion, checks []CheckResult) error {
	for i, r := range checks {
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		actual := fmt.Sprintf("%.3g", r.Actual)
		if as[i].time && !math.IsNaN(r.Actual) {
			actual = Duration(r.Actual)
		}
		if _, err := fmt.Fprintf(w, "%s %s (actual %s)\n", verdict, r.Assertion, actual); err != nil {
			return err
		}
	}
	return nil
}
