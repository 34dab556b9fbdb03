package history_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/results"
)

// slowedRun is the testdata run with every request's times multiplied by
// factor, as a build doing that much more work a job would show.
func slowedRun(t *testing.T, factor float64) *results.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "results", "testdata", "run-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := results.ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range run.Rounds {
		for j := range run.Rounds[i].Arms {
			rs := run.Rounds[i].Arms[j].Results
			for k := range rs {
				rs[k].SentMs *= factor
				rs[k].LatencyMs *= factor
				rs[k].EndMs *= factor
				rs[k].QueueMs *= factor
				rs[k].JobMs *= factor
			}
		}
	}
	run.Derive()
	return run
}

// history16 is 16 runs of one setup under 3% noise, the last slow of
// them doing factor more work.
func history16(t *testing.T, slow int, factor float64) []history.Entry {
	rng := rand.New(rand.NewPCG(1, 1))
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var es []history.Entry
	for i := range 16 {
		f := 1 + 0.03*rng.NormFloat64()
		if i >= 16-slow {
			f *= factor
		}
		es = append(es, history.Entry{ID: fmt.Sprint(i), Commit: fmt.Sprintf("commit%02d", i), Branch: "main", Time: day.Add(time.Duration(i) * time.Hour), Run: slowedRun(t, f)})
	}
	return es
}

func TestCheckNamesTheFirstSlowRun(t *testing.T) {
	t.Parallel()
	res, err := history.Check(history16(t, 8, 1.3), history.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	failed := strings.Join(res.Failed(), "; ")
	if !strings.Contains(failed, "standard.service rose by") || !strings.Contains(failed, "at commit08") || strings.Contains(failed, "speedup") {
		t.Errorf("failed: %q; want the times rising at commit08, the first slow run, and the speedup unmoved", failed)
	}
	// Without the slow build: nothing fails.
	res, err = history.Check(history16(t, 0, 1.3), history.CheckOptions{})
	if err != nil || len(res.Failed()) != 0 {
		t.Errorf("the same history without the slow build: %v, failed %v", err, res.Failed())
	}
	// Slow, then fixed: the newest runs sit after a recovery.
	es := history16(t, 8, 1.3)
	for i := 12; i < 16; i++ {
		es[i].Run = slowedRun(t, 1)
	}
	if res, err := history.Check(es, history.CheckOptions{}); err != nil || len(res.Failed()) != 0 {
		t.Errorf("slow, then fixed: %v, failed %v", err, res.Failed())
	}
	// A gate no run has is refused.
	if _, err := history.Check(es, history.CheckOptions{Gates: []string{"queue.last"}}); err == nil {
		t.Error("a gate on a queue the runs never had: no error")
	}
}

// TestCheckAddsUpSteps: two steps of 4% each, each below --min-change,
// add up to a regression named where it began.
func TestCheckAddsUpSteps(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 3))
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var es []history.Entry
	for i := range 30 {
		f := 1 + 0.005*rng.NormFloat64()
		switch {
		case i >= 20:
			f *= 1.04 * 1.04
		case i >= 10:
			f *= 1.04
		}
		es = append(es, history.Entry{ID: fmt.Sprint(i), Commit: fmt.Sprintf("commit%02d", i), Branch: "main", Time: day.Add(time.Duration(i) * time.Hour), Run: slowedRun(t, f)})
	}
	res, err := history.Check(es, history.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if failed := strings.Join(res.Failed(), "; "); !strings.Contains(failed, "standard.service rose by 8.") || !strings.Contains(failed, "at commit10 in 2 steps") {
		t.Errorf("failed: %q; want standard.service up about 8%% since commit10, in 2 steps", failed)
	}
}

// TestCheckAfterRecoveries: a full recovery passes; a partial one leaves
// the rest of the regression standing; a series that is not the newest
// run's (another setup) is shown, not gated.
func TestCheckAfterRecoveries(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	series := func(levels ...float64) []history.Entry {
		rng := rand.New(rand.NewPCG(5, 5))
		var es []history.Entry
		for i := range 10 * len(levels) {
			f := levels[i/10] * (1 + 0.005*rng.NormFloat64())
			es = append(es, history.Entry{ID: fmt.Sprint(i), Commit: fmt.Sprintf("commit%02d", i), Branch: "main", Time: day.Add(time.Duration(i) * time.Hour), Run: slowedRun(t, f)})
		}
		return es
	}
	for _, tt := range []struct {
		levels []float64
		want   string // in the failure line; "" for a pass
	}{
		{[]float64{1, 1.3, 1}, ""},
		{[]float64{1, 1.3, 1.2}, "standard.service rose by 19.8% at commit10"},
		{[]float64{1, 1.3, 1, 1.1}, "at commit30"},
	} {
		res, err := history.Check(series(tt.levels...), history.CheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		failed := strings.Join(res.Failed(), "; ")
		if tt.want == "" && failed != "" || tt.want != "" && !strings.Contains(failed, tt.want) {
			t.Errorf("levels %v: failed %q, want %q", tt.levels, failed, tt.want)
		}
	}
	// The newest run of another setup: the slow series is not gated.
	es := series(1, 1.3)
	other := slowedRun(t, 1)
	other.Config.N = 20
	es = append(es, history.Entry{ID: "other", Commit: "other", Branch: "main", Time: day.Add(1000 * time.Hour), Run: other})
	if res, err := history.Check(es, history.CheckOptions{}); err != nil || len(res.Failed()) != 0 {
		t.Errorf("a regression in another setup's series than the newest run's: %v, failed %v", err, res.Failed())
	}
}
