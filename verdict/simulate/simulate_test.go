package simulate

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/verdict"
)

// TestHeadlineCells pins the headline cells of scripts/simulate, seeded,
// at 1000 trials: the error rates compare promises. Slack of 1.5 points
// is about two binomial standard deviations at 5% and 1000 trials.
func TestHeadlineCells(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of comparisons")
	}
	t.Parallel()
	for _, tt := range []struct {
		c        Case
		min, max float64 // the rate of failed comparisons must lie within
	}{
		// The paired design, 6 rounds, rounds varying within ±15% a mode.
		{Case{Design: Paired, Model: Uniform, Where: PerMode, Sigma: 0.15, Rounds: 6, Drop: 0}, 0, 0.05},
		{Case{Design: Paired, Model: Uniform, Where: PerMode, Sigma: 0.15, Rounds: 6, Drop: 0.10}, 0, 0.065},
		// About 90% caught at 6 rounds (88-90% across seeds), all but a few
		// at 8.
		{Case{Design: Paired, Model: Uniform, Where: PerMode, Sigma: 0.15, Rounds: 6, Drop: 0.30}, 0.86, 1},
		{Case{Design: Paired, Model: Uniform, Where: PerMode, Sigma: 0.15, Rounds: 8, Drop: 0.30}, 0.93, 1},
		// At the threshold the gate fires at most 5% of the time, at 6
		// and 12 rounds, for every model (4 rounds: never, no bound).
		{Case{Design: Paired, Model: Normal, Where: PerMode, Sigma: 0.15, Rounds: 6, Drop: 0.10}, 0, 0.065},
		{Case{Design: Paired, Model: Lognormal, Where: PerMode, Sigma: 0.15, Rounds: 12, Drop: 0.10}, 0, 0.065},
		{Case{Design: TwoRuns, Model: Normal, Where: PerMode, Sigma: 0.15, Rounds: 6, Drop: 0.10}, 0, 0.065},
		{Case{Design: TwoRuns, Model: Lognormal, Where: PerMode, Sigma: 0.15, Rounds: 4, Drop: 0.10}, 0, 0.065},
		{Case{Design: TwoRuns, Model: Outliers, Where: PerSpeedup, Sigma: 0.15, Rounds: 12, Drop: 0.10}, 0, 0.065},
		// Drift between runs (15% on the speedup): two runs raise false
		// alarms, which a paired run, one machine and one hour, cannot.
		{Case{Design: TwoRuns, Model: Normal, Where: PerMode, Sigma: 0.05, Rounds: 6, Drop: 0, Drift: 0.15}, 0.10, 1},
		{Case{Design: Paired, Model: Normal, Where: PerMode, Sigma: 0.05, Rounds: 6, Drop: 0, Drift: 0.15}, 0, 0.02},
		{Case{Design: Paired, Model: Normal, Where: PerMode, Sigma: 0.05, Rounds: 6, Drop: 0.30, Drift: 0.15}, 0.98, 1},
		// The noise measured in 20 real paired --quick benches here
		// (scripts/simulate -measure): 6 paired rounds catch 30% drops.
		{Case{Design: Paired, Model: Lognormal, Where: PerMode, Sigma: 0.095, Shared: 0.37, Rounds: 6, Drop: 0}, 0, 0.02},
		{Case{Design: Paired, Model: Lognormal, Where: PerMode, Sigma: 0.095, Shared: 0.37, Rounds: 6, Drop: 0.30}, 0.92, 1},
		// With 20 rounds, sd 15% a mode: 30% drops caught.
		{Case{Design: Paired, Model: Normal, Where: PerMode, Sigma: 0.15, Rounds: 20, Drop: 0.30}, 0.90, 1},
	} {
		rate, err := tt.c.Rate(1000, 1, verdict.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rate < tt.min || rate > tt.max {
			t.Errorf("%+v: %.1f%% failed, want %.1f%% to %.1f%%", tt.c, 100*rate, 100*tt.min, 100*tt.max)
		}
	}
}

func TestPairedNeedsFiveRounds(t *testing.T) {
	t.Parallel()
	c := Case{Design: Paired, Model: Normal, Where: PerMode, Sigma: 0.15, Rounds: 4, Drop: 0.3}
	if _, err := c.Rate(1, 1, verdict.Options{}); err == nil {
		t.Error("a paired comparison of 4 rounds gave a verdict, want too few rounds")
	}
}

// TestMeasureRecoversTheNoise fabricates paired runs with known noise
// and measures it back.
func TestMeasureRecoversTheNoise(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	const sigma, shared = 0.10, 0.5
	own, common := sigma*math.Sqrt(1-shared), sigma*math.Sqrt(shared)
	var runs []*results.Run
	for range 40 {
		rf := map[int]float64{}
		runs = append(runs, fabricate(10, []string{results.Base, results.Head}, func(round int, _ string) (float64, float64) {
			if _, ok := rf[round]; !ok {
				rf[round] = math.Exp(common * rng.NormFloat64())
			}
			r := rf[round]
			return 1000 * r * math.Exp(own*rng.NormFloat64()), 500 * r * math.Exp(own*rng.NormFloat64())
		}))
	}
	n, err := Measure(runs)
	if err != nil {
		t.Fatal(err)
	}
	// Deviations from a run's mean of 10 shrink the variance by 9/10.
	want := sigma * math.Sqrt(0.9)
	if n.Rounds != 400 || math.Abs(n.Sigma-want) > 0.01 || math.Abs(n.Shared-shared) > 0.08 {
		t.Errorf("measured %+v, want 400 rounds, sigma %.3f, shared %.2f", n, want, shared)
	}
	if pred := 2 * n.Sigma * math.Sqrt(1-n.Shared); math.Abs(n.Ratio-pred) > 0.02 {
		t.Errorf("paired ratio sd %.3f, sigma and shared predict %.3f", n.Ratio, pred)
	}
	if _, err := Measure(nil); err == nil {
		t.Error("Measure(nil) gave no error")
	}
}

// TestWorkCells pins the error rates of a paired comparison's default
// gates on the cost of a request, decided together, for a head that does
// more work per job: caught at 30% more, at most 5% at the 10%
// threshold, and no more than 5% false alarms for the comparison as a
// whole when nothing changed, under the noise measured here and under
// independent 15% noise on every figure.
func TestWorkCells(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of comparisons")
	}
	t.Parallel()
	for _, tt := range []struct {
		c        WorkCase
		trials   int
		min, max float64
	}{
		{WorkCase{Rounds: 6, Work: 0.30}, 500, 0.90, 1},
		{WorkCase{Rounds: 6, Work: 0.10}, 500, 0, 0.05},
		{WorkCase{Rounds: 6, Work: 0}, 500, 0, 0.05},
		{WorkCase{Rounds: 6, MemoryMB: 15}, 500, 0.90, 1}, // 30 MiB more in a cluster of two, 15 a process
		{WorkCase{Rounds: 12, Work: 0.30, Sigma: 0.15}, 200, 0.80, 1},
		{WorkCase{Rounds: 12, Work: 0.10, Sigma: 0.15}, 200, 0, 0.065},
		{WorkCase{Rounds: 6, Work: 0, Sigma: 0.15}, 500, 0, 0.05},
	} {
		rate, err := tt.c.Rate(tt.trials, 1, verdict.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v: %.1f%% failed", tt.c, 100*rate)
		if rate < tt.min || rate > tt.max {
			t.Errorf("%+v: %.1f%% failed, want %.1f%% to %.1f%%", tt.c, 100*rate, 100*tt.min, 100*tt.max)
		}
	}
}
