package report

import (
	"fmt"
	"io"
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
		m, known := results.LookupMetric(metric)
		if !known {
			return Assertion{}, fmt.Errorf("assertion %q: unknown metric %q (want %s)", s, metric, results.MetricHelp())
		}
		a := Assertion{Text: s, Metric: metric, Op: op}
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

// Check evaluates the assertions on run.
func Check(run *results.Run, as []Assertion) []CheckResult {
	out := make([]CheckResult, len(as))
	for i, a := range as {
		m, _ := results.LookupMetric(a.Metric)
		v := m.Of(run)
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
		if m, _ := results.LookupMetric(as[i].Metric); m.IsTime() {
			actual = Duration(r.Actual)
		}
		if _, err := fmt.Fprintf(w, "%s %s (actual %s)\n", verdict, r.Assertion, actual); err != nil {
			return err
		}
	}
	return nil
}
