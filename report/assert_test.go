package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseAssertion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		metric string
		op     string
		value  float64
		err    string
	}{
		{"speedup>=1.6", "speedup", ">=", 1.6, ""},
		{"speedup >= 1.6x", "speedup", ">=", 1.6, ""},
		{"cluster.p99<=5s", "cluster.p99", "<=", 5000, ""},
		{"standard.last<800ms", "standard.last", "<", 800, ""},
		{"cluster.errors==0", "cluster.errors", "==", 0, ""},
		{"speed>=1", "", "", 0, "unknown metric"},
		{"cluster.p99<=5", "", "", 0, "duration"},
		{"speedup", "", "", 0, "METRIC OP VALUE"},
		{"speedup>=fast", "", "", 0, "number"},
	}
	for _, tt := range tests {
		a, err := ParseAssertion(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseAssertion(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || a.Metric != tt.metric || a.Op != tt.op || a.Value != tt.value {
			t.Errorf("ParseAssertion(%q) = %+v, %v; want %s %s %v", tt.in, a, err, tt.metric, tt.op, tt.value)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	run := mustReadRun(t, "run.json") // speedup 1.98, cluster p99 4.89 s
	var as []Assertion
	for _, s := range []string{"speedup>=1.6", "cluster.p99<=5s", "speedup>=2.5", "standard.last<5s", "cluster.errors==0"} {
		a, err := ParseAssertion(s)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	res := Check(run, as)
	want := []bool{true, true, false, false, true}
	for i, r := range res {
		if r.Pass != want[i] {
			t.Errorf("%s: pass %v (actual %v), want %v", r.Assertion, r.Pass, r.Actual, want[i])
		}
	}
	var buf bytes.Buffer
	if err := WriteChecks(&buf, as, res); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "checks.text", buf.Bytes())
}
