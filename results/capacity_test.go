package results

import (
	"strings"
	"testing"
)

func TestParseSLO(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]SLO{"p99<=2s": {P: 99, MaxMs: 2000}, "p50 <= 500ms": {P: 50, MaxMs: 500}, "errors<=1%": {MaxErrorRate: 0.01}} {
		if got, err := ParseSLO(in); err != nil || got != want {
			t.Errorf("ParseSLO(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "p99", "p99<=", "p100<=1s", "p99<=-1s", "q99<=1s", "errors<=1", "errors<=100%"} {
		if _, err := ParseSLO(bad); err == nil {
			t.Errorf("ParseSLO(%q): no error", bad)
		}
	}
	slos, err := ParseSLOs([]string{"p99<=3s"})
	if err != nil || len(slos) != 2 || slos[1] != DefaultErrorSLO {
		t.Errorf("ParseSLOs adds the error bound: %+v, %v", slos, err)
	}
}

// TestCapacityOf: the highest rate whose every counted hold passed, held
// twice; a disturbed, repeated hold does not count.
func TestCapacityOf(t *testing.T) {
	t.Parallel()
	step := func(rate float64, passed, repeated bool) CapacityStep {
		return CapacityStep{Rate: rate, Passed: passed, Repeated: repeated}
	}
	for _, c := range []struct {
		name        string
		steps       []CapacityStep
		unconfirmed bool
		want        float64
	}{
		{"confirmed", []CapacityStep{step(10, true, false), step(20, false, false), step(15, true, false), step(15, true, false)}, false, 15},
		{"a failed confirmation", []CapacityStep{step(10, true, false), step(20, false, false), step(15, true, false), step(15, false, false), step(10, true, false)}, false, 10},
		{"unconfirmed counts a single pass", []CapacityStep{step(10, true, false), step(20, true, false)}, true, 20},
		{"unconfirmed but confirmed is needed", []CapacityStep{step(10, true, false), step(20, true, false)}, false, 0},
		{"a repeated failure does not count", []CapacityStep{step(10, false, true), step(10, true, false), step(10, true, false)}, false, 10},
		{"nothing passed", []CapacityStep{step(10, false, false), step(5, false, false)}, false, 0},
	} {
		if got := CapacityOf(c.steps, c.unconfirmed); got != c.want {
			t.Errorf("%s: capacity %v, want %v", c.name, got, c.want)
		}
	}
}

// TestJudgeAStep: a step's verdict comes from its requests: the SLO's
// percentile, the errors, the first SLO missed named.
func TestJudgeAStep(t *testing.T) {
	t.Parallel()
	var recs []Record
	for i := range 100 { // latencies 10 to 109 ms, in no order: a server that keeps up
		lat := float64(10 + i*37%100)
		recs = append(recs, Record{Seq: uint64(i), Status: 200, LatencyMs: lat, SentMs: float64(i * 10), EndMs: float64(i*10) + lat})
	}
	slos, _ := ParseSLOs([]string{"p99<=200ms"})
	st := CapacityStep{Rate: 100, Results: recs}
	st.Judge(slos, MinKeptUp)
	if !st.Passed || st.Requests != 100 || st.ErrorRate != 0 || len(st.Ms) != 1 || st.Ms[0] < 100 || st.Ms[0] > 110 || st.KeptUp < 0.95 {
		t.Errorf("a step inside its SLO: passed %v (%s), %d requests, errors %v, ms %v, kept up %v", st.Passed, st.Why, st.Requests, st.ErrorRate, st.Ms, st.KeptUp)
	}
	// The same latencies growing with the send time: a queue that grows,
	// inside the SLO, but answered at 91% of the rate.
	for i := range recs {
		recs[i].LatencyMs = float64(10 + i)
		recs[i].EndMs = recs[i].SentMs + recs[i].LatencyMs
	}
	st.Judge(slos, MinKeptUp)
	if st.Passed || st.KeptUp < 0.9 || st.KeptUp > 0.92 || !strings.HasPrefix(st.Why, "served 90.9/s, 90.9% of the rate < 97%") {
		t.Errorf("a growing queue: passed %v (%q), kept up %v; want a failure at 91%%", st.Passed, st.Why, st.KeptUp)
	}
	recs[0].Status, recs[1].Status = 500, 500
	slos, _ = ParseSLOs([]string{"p99<=50ms"})
	st.Judge(slos, MinKeptUp)
	if st.Passed || st.Why != "p99 108ms > 50ms" || st.ErrorRate != 0.02 {
		t.Errorf("a step past its latency SLO and its 1%% error bound: passed %v, why %q, errors %v", st.Passed, st.Why, st.ErrorRate)
	}
}
