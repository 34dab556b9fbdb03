package verdict

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/aclements/go-moremath/stats"

	"github.com/flipbench/flipbench/results"
)

// meanRatio is mean(head)/mean(base) with the percentile bootstrap's
// one-sided (1-alpha) bounds, and the U test's one-sided p-value.
func meanRatio(base, head []float64, alpha float64, resamples int, rng *rand.Rand) ratioInterval {
	ri := ratioInterval{}
	mb, mh := center(base), center(head)
	switch {
	case mb == 0 && mh == 0:
		ri.Est = 1
	case mb == 0:
		ri.Est = math.Inf(1) // from nothing to something: no errors, then some
	default:
		ri.Est = mh / mb
	}
	ri.Lo, ri.Hi = bootstrapRatio(base, head, 1-2*alpha, resamples, rng)
	ri.P = min(uTest(head, base, stats.LocationLess), uTest(head, base, stats.LocationGreater))
	return ri
}

// uTest is the Mann-Whitney U test's p-value for the alternative alt
// (head's location less or greater than base's); 1 if it cannot run.
func uTest(head, base []float64, alt stats.LocationHypothesis) float64 {
	res, err := stats.MannWhitneyUTest(head, base, alt)
	if err != nil {
		return 1
	}
	return res.P
}

// bootstrapRatio is the percentile bootstrap confidence interval of
// mean(head)/mean(base) (see center). A base of zero makes the ratio
// infinite; the interval is then (+Inf, +Inf) or, with head zero too, 1.
func bootstrapRatio(base, head []float64, confidence float64, resamples int, rng *rand.Rand) (lo, hi float64) {
	ratios := make([]float64, resamples)
	bb, hb := make([]float64, len(base)), make([]float64, len(head))
	for i := range ratios {
		for j := range bb {
			bb[j] = base[rng.IntN(len(base))]
		}
		for j := range hb {
			hb[j] = head[rng.IntN(len(head))]
		}
		mb, mh := center(bb), center(hb)
		switch {
		case mb == 0 && mh == 0:
			ratios[i] = 1
		case mb == 0:
			ratios[i] = math.Inf(1)
		default:
			ratios[i] = mh / mb
		}
	}
	slices.Sort(ratios)
	tail := (1 - confidence) / 2 * 100
	return results.Percentile(ratios, tail), results.Percentile(ratios, 100-tail)
}

// center is the statistic whose ratio is bootstrapped: the mean. With
// the 5 to 10 rounds a bench has, the median of a resample jumps between
// a few order statistics and its interval is too wide to ever lie beyond
// a 10% threshold; the mean's is not, and the U test already guards
// against the outliers a mean is weak to.
func center(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
