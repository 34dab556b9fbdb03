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

// TestFamilyTestCountsSignPatterns: a metric worse in every one of 6
// rounds, beside metrics better in every round, gets 2/64: its own flip
// and the one that turns the others over; a third pattern makes 3/64.
func TestFamilyTestCountsSignPatterns(t *testing.T) {
	t.Parallel()
	worse := []float64{1.4, 1.35, 1.3, 1.42, 1.38, 1.33}
	same := []float64{1, 1.01, 0.99, 1, 1.02, 0.98}
	p := familyTest([][]float64{worse, same, same}, []bool{false, false, false}, 0.10)
	if p[0] != 2.0/64 {
		t.Errorf("p %v, want 2/64 for the worse metric", p)
	}
	mixed := []float64{1.2, 0.9, 1.3, 0.95, 1.25, 1}
	p = familyTest([][]float64{worse, same, mixed}, []bool{false, false, false}, 0.10)
	if p[0] != 3.0/64 {
		t.Errorf("p %v, want 3/64 with a third sign pattern", p)
	}
}
