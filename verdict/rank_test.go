package verdict

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSignedRankCDF(t *testing.T) {
	t.Parallel()
	// n = 3: the 8 subsets of {1,2,3} have sums 0,1,2,3,3,4,5,6.
	got := signedRankCDF(3)
	want := []float64{1.0 / 8, 2.0 / 8, 3.0 / 8, 5.0 / 8, 6.0 / 8, 7.0 / 8, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("signedRankCDF(3) = %v, want %v", got, want)
		}
	}
}

// TestRankIntervalsHaveNoBoundWithTooFewRounds: a one-sided 95% bound
// needs 5 paired rounds (the signed-rank test's smallest p at 4 is 1/16)
// and 3 rounds a side (the U test's at 2 and 2 is 1/6).
func TestRankIntervalsHaveNoBoundWithTooFewRounds(t *testing.T) {
	t.Parallel()
	if r := pairedRatio([]float64{0.5, 0.5, 0.5, 0.5}, 0.05); r.Lo != 0 || !math.IsInf(r.Hi, 1) {
		t.Errorf("4 paired rounds: %+v, want no bound", r)
	}
	if r := pairedRatio([]float64{0.5, 0.51, 0.52, 0.53, 0.54}, 0.05); r.Hi != 0.54 || r.P != 1.0/32 {
		t.Errorf("5 paired rounds all below 1: %+v, want the upper bound the largest, p 1/32", r)
	}
	if r := shiftRatio([]float64{1, 1.1}, []float64{0.5, 0.55}, 0.05); r.Lo != 0 || !math.IsInf(r.Hi, 1) {
		t.Errorf("2 rounds a side: %+v, want no bound", r)
	}
}

// TestRankIntervalsCover: at the true ratio, the one-sided 95% upper
// bound falls below it in at most 5% of trials, for skewed noise too;
// the estimate is the same quantity the bound bounds.
func TestRankIntervalsCover(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const trials, truth = 4000, 0.9
	for _, n := range []int{5, 6, 12} {
		missPaired, missShift := 0, 0
		for range trials {
			q := make([]float64, n)
			base, head := make([]float64, n), make([]float64, n)
			for i := range q {
				q[i] = truth * math.Exp(0.3*rng.NormFloat64())
				base[i] = 2 * math.Exp(0.2*rng.ExpFloat64()) // skewed
				head[i] = truth * 2 * math.Exp(0.2*rng.ExpFloat64())
			}
			if pairedRatio(q, 0.05).Hi < truth {
				missPaired++
			}
			if shiftRatio(base, head, 0.05).Hi < truth {
				missShift++
			}
		}
		for name, miss := range map[string]int{"paired": missPaired, "two-sample": missShift} {
			if rate := float64(miss) / trials; rate > 0.05+0.01 { // 0.01: three binomial sds at 4000 trials
				t.Errorf("%s, %d rounds: the upper bound missed the truth in %.1f%% of trials, want <= 5%%", name, n, 100*rate)
			}
		}
	}
}
