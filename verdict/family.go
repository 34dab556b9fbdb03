package verdict

import (
	"fmt"
	"math"
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
			d.Verdict = VerdictUnconfirmed
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
// more CPU a request at once). A metric's statistic is the sum of its
// distances over their root sum of squares ([flipStat]); its adjusted
// p-value is the share of flips in which the largest statistic of any
// metric reaches its own. A gate fails when its adjusted p-value is at
// most alpha, which bounds the chance that any gate fails at the
// threshold by alpha for the whole comparison, however many gates there
// are.
//
// ratios[g][i] is metric g's head/base in round i, positive; higher[g]
// says whether higher is better. Every metric has the same rounds.
// Enumerated exactly up to 12 rounds (4096 flips), else over familyFlips
// random flips (seeded: the same runs give the same verdict).
func familyTest(ratios [][]float64, higher []bool, maxReg float64) []float64 {
	if len(ratios) == 0 || len(ratios[0]) > 64 {
		return nil // a flip is a 64-bit mask
	}
	n := len(ratios[0])
	dist := make([][]float64, len(ratios)) // > 0: worse than the threshold
	observed := make([]float64, len(ratios))
	for g, q := range ratios {
		dist[g] = make([]float64, n)
		for i, v := range q {
			if higher[g] {
				dist[g][i] = math.Log(1-maxReg) - math.Log(v)
			} else {
				dist[g][i] = math.Log(v) - math.Log(1+maxReg)
			}
		}
		observed[g] = flipStat(dist[g], 0)
	}
	reach := make([]int, len(ratios)) // flips whose max reaches each observed
	total := 0
	each := func(flip uint64) {
		top := math.Inf(-1)
		for g := range ratios {
			top = max(top, flipStat(dist[g], flip))
		}
		for g := range ratios {
			if top >= observed[g]-1e-9 {
				reach[g]++
			}
		}
		total++
	}
	if n <= 12 {
		for flip := range uint64(1) << n {
			each(flip)
		}
	} else {
		each(0) // the observed rounds, unflipped, count
		rng := rand.New(rand.NewPCG(3, 4))
		for range familyFlips - 1 {
			each(rng.Uint64() & (1<<n - 1))
		}
	}
	p := make([]float64, len(ratios))
	for g := range p {
		p[g] = float64(reach[g]) / float64(total)
	}
	return p
}

// flipStat is a metric's statistic under a flip (the rounds in the mask
// negated): the sum of its distances over their root sum of squares,
// which flips leave alone, so a monotone function of the one-sample t
// statistic. It is at most the square root of the rounds, reached when
// every round is as far beyond the threshold: a consistent shift.
// Wilcoxon's rank sum was tried first and dropped: every metric whose
// rounds all fall on one side reaches the rank sum's maximum under the
// flip that turns them over, so with noisy metrics of several sign
// patterns beside a clear regression (a Node cluster's last response
// beside its standard's), 6 rounds could not find it (p 5/64).
func flipStat(d []float64, flip uint64) float64 {
	var sum, sq float64
	for i, v := range d {
		if flip&(1<<i) != 0 {
			v = -v
		}
		sum += v
		sq += v * v
	}
	if sq == 0 {
		return 0
	}
	return sum / math.Sqrt(sq)
}

// familyFlips is how many sign flips familyTest draws past 12 rounds:
// an adjusted p-value near 0.05 is then off by 0.003 (one standard
// deviation).
const familyFlips = 5000
