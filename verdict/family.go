package verdict

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
)

// member is a gated metric of a paired comparison decided with the
// others: its delta's index, and its per-round values (NaN: none).
type member struct {
	delta      int
	base, head []float64
}

// ratioMetric reports whether a metric has a head/base ratio in every
// round where both have a value: not a count that may be zero (errors),
// which is decided on its own.
func ratioMetric(base, head []float64) bool {
	n := 0
	for i := range base {
		if math.IsNaN(base[i]) || math.IsNaN(head[i]) {
			continue
		}
		if !(base[i] > 0 && head[i] > 0) {
			return false
		}
		n++
	}
	return n > 0
}

// decideFamily decides the gated ratio metrics of a paired comparison
// together, over the rounds where every one has a value: a metric
// regresses only when the family's test finds it worse than the
// threshold ([familyTest]). A metric that only its own test found so is
// "within threshold" for the verdict, and says why. With too few common
// rounds each keeps its own test.
func (c *Comparison) decideFamily(family []member) {
	if len(family) < 2 {
		return
	}
	var rounds []int
	for i := range family[0].base {
		if !slices.ContainsFunc(family, func(m member) bool { return math.IsNaN(m.base[i]) || math.IsNaN(m.head[i]) }) {
			rounds = append(rounds, i)
		}
	}
	if len(rounds) < MinPairedRounds {
		c.Notes = append(c.Notes, fmt.Sprintf("gates decided one by one: only %d rounds where every gated metric has a value", len(rounds)))
		return
	}
	ratios := make([][]float64, len(family))
	higher := make([]bool, len(family))
	for g, m := range family {
		for _, i := range rounds {
			ratios[g] = append(ratios[g], m.head[i]/m.base[i])
		}
		higher[g] = c.Deltas[m.delta].HigherIsBetter
	}
	p := familyTest(ratios, higher, c.MaxRegression)
	if p == nil {
		c.Notes = append(c.Notes, fmt.Sprintf("gates decided one by one: %d rounds are more than the joint test flips", len(rounds)))
		return
	}
	var ps []string
	for g, m := range family {
		d := &c.Deltas[m.delta]
		d.PFamily = &p[g]
		ps = append(ps, fmt.Sprintf("%s %.3f", d.Metric, p[g]))
		switch {
		case p[g] <= c.Alpha:
			d.Verdict = VerdictRegression
		case d.Verdict == VerdictRegression:
			d.Verdict = VerdictSmall
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s: beyond the threshold on its own test, not on the gates' joint test (p %.3f)", d.Metric, p[g]))
		}
	}
	c.Notes = append(c.Notes, fmt.Sprintf("gates tested together against the %.0f%% threshold (max-T over the rounds' sign flips; a false alarm for the whole comparison at most %.0f%%): p %s",
		100*c.MaxRegression, 100*c.Alpha, strings.Join(ps, ", ")))
}

// familyTest tests the gated metrics of a paired comparison together,
// each against the threshold: is head worse than base by more than
// maxReg? It is a Westfall-Young max-T test over the rounds' joint sign
// flips. In each round, base and head ran minutes apart, so under the
// null hypothesis (head exactly maxReg worse, every metric at once) each
// round's vector of log distances to the threshold is as likely negated:
// flipping whole rounds, every metric alike, keeps how the metrics move
// together (a slower job is a later last response, a lower throughput and
// more CPU a request at once). A metric's statistic is the Wilcoxon
// signed-rank sum of its distances; its adjusted p-value is the share of
// flips in which the largest statistic of any metric reaches its own. A
// gate fails when its adjusted p-value is at most alpha, which bounds the
// chance that any gate fails at the threshold by alpha for the whole
// comparison, however many gates there are.
//
// ratios[g][i] is metric g's head/base in round i, positive; higher[g]
// says whether higher is better. Every metric has the same rounds.
// Enumerated exactly up to 12 rounds (4096 flips), else over familyFlips
// random flips
// (seeded: the same runs give the same verdict).
func familyTest(ratios [][]float64, higher []bool, maxReg float64) []float64 {
	if len(ratios) == 0 || len(ratios[0]) > 64 {
		return nil // a flip is a 64-bit mask
	}
	n := len(ratios[0])
	dist := make([][]float64, len(ratios)) // > 0: worse than the threshold
	ranks := make([][]float64, len(ratios))
	for g, q := range ratios {
		dist[g] = make([]float64, n)
		for i, v := range q {
			if higher[g] {
				dist[g][i] = math.Log(1-maxReg) - math.Log(v)
			} else {
				dist[g][i] = math.Log(v) - math.Log(1+maxReg)
			}
		}
		ranks[g] = absRanks(dist[g])
	}
	// A flip is a bit mask of the rounds negated; a metric's statistic
	// under it sums the ranks of the rounds whose distance is positive
	// once flipped: its own positive rounds XOR the flip.
	pos := make([]uint64, len(ratios))
	observed := make([]float64, len(ratios))
	for g := range ratios {
		for i, v := range dist[g] {
			if v > 0 {
				pos[g] |= 1 << i
			}
		}
		observed[g] = rankSum(ranks[g], pos[g])
	}
	reach := make([]int, len(ratios)) // flips whose max reaches each observed
	total := 0
	each := func(flip uint64, sum func(g int, mask uint64) float64) {
		top := math.Inf(-1)
		for g := range ratios {
			top = max(top, sum(g, pos[g]^flip))
		}
		for g := range ratios {
			if top >= observed[g]-1e-9 {
				reach[g]++
			}
		}
		total++
	}
	if n <= 12 {
		// Every flip, with each metric's sums over all masks made once.
		tables := make([][]float64, len(ratios))
		for g := range tables {
			tables[g] = rankSums(ranks[g])
		}
		for flip := range uint64(1) << n {
			each(flip, func(g int, mask uint64) float64 { return tables[g][mask] })
		}
	} else {
		direct := func(g int, mask uint64) float64 { return rankSum(ranks[g], mask) }
		each(0, direct) // the observed rounds, unflipped, count
		rng := rand.New(rand.NewPCG(3, 4))
		for range familyFlips - 1 {
			each(rng.Uint64()&(1<<n-1), direct)
		}
	}
	p := make([]float64, len(ratios))
	for g := range p {
		p[g] = float64(reach[g]) / float64(total)
	}
	return p
}

// familyFlips is how many sign flips familyTest draws past 12 rounds:
// an adjusted p-value near 0.05 is then off by 0.003 (one standard
// deviation).
const familyFlips = 5000

// absRanks ranks the absolute values of d from 1, ties at their mean
// rank; a zero gets rank 0, in no sum.
func absRanks(d []float64) []float64 {
	abs := make([]float64, len(d))
	for i, v := range d {
		abs[i] = math.Abs(v)
	}
	sorted := slices.Sorted(slices.Values(abs))
	r := make([]float64, len(d))
	for i, a := range abs {
		if a == 0 {
			continue
		}
		lo, _ := slices.BinarySearch(sorted, a)
		hi := lo
		for hi < len(sorted) && sorted[hi] == a {
			hi++
		}
		r[i] = float64(lo+hi+1) / 2
	}
	return r
}

// rankSum is the sum of the ranks of the rounds in mask.
func rankSum(ranks []float64, mask uint64) float64 {
	var t float64
	for i, r := range ranks {
		if mask&(1<<i) != 0 {
			t += r
		}
	}
	return t
}

// rankSums is rankSum of every mask of len(ranks) rounds, each from the
// mask without its lowest round.
func rankSums(ranks []float64) []float64 {
	sums := make([]float64, 1<<len(ranks))
	for mask := 1; mask < len(sums); mask++ {
		low := bits.TrailingZeros(uint(mask))
		sums[mask] = sums[mask&(mask-1)] + ranks[low]
	}
	return sums
}
