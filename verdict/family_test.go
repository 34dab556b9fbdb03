package verdict

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFamilyTestHoldsItsLevel: with every metric exactly at the 10%
// threshold (lognormal noise, independent or shared by a round's
// metrics), the chance that any of eight gates fails stays at or under
// 5%, at 6 and at 8 rounds.
func TestFamilyTestHoldsItsLevel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, shared := range []float64{0, 0.6} {
		for _, n := range []int{6, 8} {
			fired := 0
			const trials = 2000
			for range trials {
				ratios := make([][]float64, 8)
				higher := make([]bool, 8)
				common := make([]float64, n)
				for i := range common {
					common[i] = rng.NormFloat64()
				}
				for g := range ratios {
					higher[g] = g%2 == 0
					for i := range n {
						z := math.Sqrt(shared)*common[i] + math.Sqrt(1-shared)*rng.NormFloat64()
						at := math.Log(1.1)
						if higher[g] {
							at = math.Log(0.9)
						}
						ratios[g] = append(ratios[g], math.Exp(at+0.05*z))
					}
				}
				for _, p := range familyTest(ratios, higher, 0.10) {
					if p <= 0.05 {
						fired++
						break
					}
				}
			}
			if rate := float64(fired) / trials; rate > 0.06 {
				t.Errorf("shared %.1f, %d rounds: a gate fired in %.1f%% of comparisons at the threshold, want at most 5%%", shared, n, 100*rate)
			}
		}
	}
}

// TestFamilyTestFindsAConsistentShiftBesideNoise: the rounds of a paired
// bench of the Node example against a copy that does 30% more work a job
// (6 rounds, 4 requests; the gates' head/base ratios as measured). The
// standard side's time, throughput and CPU moved alike in every round; the
// cluster's figures are noisy, each with its own sign pattern. The
// consistent shift is found: only the observed rounds reach it.
func TestFamilyTestFindsAConsistentShiftBesideNoise(t *testing.T) {
	t.Parallel()
	ratios := [][]float64{
		{0.741, 0.726, 0.757, 1.027, 1.449, 0.754}, // speedup
		{1.276, 1.274, 1.301, 1.303, 1.276, 1.293}, // standard.last
		{0.783, 0.784, 0.769, 0.767, 0.784, 0.774}, // standard.throughput
		{1.239, 1.25, 1.276, 1.286, 1.255, 1.253},  // standard.cpu_per_request
		{0.999, 0.995, 1.007, 1.015, 0.911, 1.026}, // standard.peak_rss
		{1.721, 1.756, 1.719, 1.269, 0.881, 1.715}, // cluster.last
		{0.581, 0.57, 0.582, 0.789, 1.135, 0.583},  // cluster.throughput
		{1.299, 1.279, 1.293, 1.26, 1.155, 1.301},  // cluster.cpu_per_request
		{0.87, 0.942, 0.888, 1.028, 1.154, 0.971},  // cluster.peak_rss
	}
	higher := []bool{true, false, true, false, false, false, true, false, false}
	p := familyTest(ratios, higher, 0.10)
	for _, g := range []int{1, 2} {
		if p[g] != 1.0/64 {
			t.Errorf("metric %d: p %.4f, want 1/64 (p %v)", g, p[g], p)
		}
	}
	for _, g := range []int{0, 4, 8} {
		if p[g] <= 0.05 {
			t.Errorf("metric %d, not worse: p %.4f, want > 0.05", g, p[g])
		}
	}
}

// TestFamilyTestStableMetricsCompete: a metric far better than the
// threshold in every round, with little noise, reaches a worse metric's
// statistic under the flip that turns it over: a stable peak memory beside
// a slower job costs the job one flip in 64, no more.
func TestFamilyTestStableMetricsCompete(t *testing.T) {
	t.Parallel()
	worse := []float64{1.4, 1.35, 1.3, 1.42, 1.38, 1.33}
	stable := []float64{1, 1.001, 0.999, 1, 1.001, 0.999}
	p := familyTest([][]float64{worse, stable, stable}, []bool{false, false, false}, 0.10)
	if p[0] != 2.0/64 {
		t.Errorf("p %v, want 2/64 for the worse metric", p)
	}
}
