package verdict

import (
	"math"
	"slices"
	"sync"

	"github.com/aclements/go-moremath/stats"
)

// ratioInterval is a ratio head/base with one-sided bounds: Lo is a
// lower (1−α) bound and Hi an upper (1−α) bound, so that [Lo, Hi] is a
// (1−2α) interval. With too few rounds for a bound at level α, Lo is 0
// and Hi +Inf: no data can show a change then.
type ratioInterval struct {
	Est, Lo, Hi float64
	// P is the one-sided p-value of the rank test in the direction the
	// estimate moved: P <= α exactly when 1 lies outside that bound.
	P float64
}

// shiftRatio compares two independent samples of positive values: the
// Hodges-Lehmann estimate of head/base (the median of every ratio
// head[j]/base[i]) and the bounds that invert the one-sided Mann-Whitney
// test (Bauer 1972), on logs so that the change is a ratio. The bounds
// hold whatever the distribution, as long as head is base scaled by a
// factor (a shift in logs); their coverage is exact, not asymptotic.
func shiftRatio(base, head []float64, alpha float64) ratioInterval {
	var d []float64
	for _, h := range head {
		for _, b := range base {
			d = append(d, math.Log(h)-math.Log(b))
		}
	}
	slices.Sort(d)
	k := criticalU(len(base), len(head), alpha)
	out := ratioInterval{Est: math.Exp(median(d)), Lo: 0, Hi: math.Inf(1)}
	if k > 0 {
		out.Lo, out.Hi = math.Exp(d[k-1]), math.Exp(d[len(d)-k])
	}
	pLess, pGreater := uTest(head, base, stats.LocationLess), uTest(head, base, stats.LocationGreater)
	out.P = min(pLess, pGreater)
	return out
}

// criticalU is the largest k such that P(U < k) <= alpha for samples of
// n1 and n2 without ties: the k-th smallest of the n1*n2 differences is
// the lower bound, the k-th largest the upper. The exact distribution is
// costly at 20 rounds a side, and the answer depends on n1, n2 and alpha
// alone: it is kept.
func criticalU(n1, n2 int, alpha float64) int {
	key := [3]float64{float64(n1), float64(n2), alpha}
	criticalMu.Lock()
	defer criticalMu.Unlock()
	if k, ok := critical[key]; ok {
		return k
	}
	u := stats.UDist{N1: n1, N2: n2}
	k := 0
	for k < n1*n2 && u.CDF(float64(k)) <= alpha {
		k++
	}
	critical[key] = k
	return k
}

var (
	criticalMu sync.Mutex
	critical   = map[[3]float64]int{}
)

// pairedRatio summarizes per-round ratios q (head/base measured in the
// same round): the Hodges-Lehmann estimate (the median of the Walsh
// averages of log q, back as a ratio) and the bounds that invert the
// one-sided Wilcoxon signed-rank test. They hold for any distribution of
// log q symmetric about its centre, with exact coverage.
func pairedRatio(q []float64, alpha float64) ratioInterval {
	n := len(q)
	logs := make([]float64, n)
	for i, v := range q {
		logs[i] = math.Log(v)
	}
	var walsh []float64
	for i := range n {
		for j := i; j < n; j++ {
			walsh = append(walsh, (logs[i]+logs[j])/2)
		}
	}
	slices.Sort(walsh)
	cdf := signedRankCDF(n)
	k := 0
	for k < len(walsh) && cdf[k] <= alpha {
		k++
	}
	out := ratioInterval{Est: math.Exp(median(walsh)), Lo: 0, Hi: math.Inf(1)}
	if k > 0 {
		out.Lo, out.Hi = math.Exp(walsh[k-1]), math.Exp(walsh[len(walsh)-k])
	}
	// The signed-rank statistic T+ (the sum of the ranks of |log q| of
	// the positive ones) for the p-values; zeros are dropped, ties of
	// |log q| get their mean rank, and then the exact table is only
	// close, which for measured times (continuous) does not arise.
	var abs []float64
	for _, l := range logs {
		if l != 0 {
			abs = append(abs, math.Abs(l))
		}
	}
	m := len(abs)
	if m == 0 {
		out.P = 1
		return out
	}
	sorted := slices.Sorted(slices.Values(abs))
	rank := func(v float64) float64 {
		lo, _ := slices.BinarySearch(sorted, v)
		hi := lo
		for hi < m && sorted[hi] == v {
			hi++
		}
		return float64(lo+hi+1) / 2 // ranks from 1
	}
	tPlus := 0.0
	for _, l := range logs {
		if l > 0 {
			tPlus += rank(math.Abs(l))
		}
	}
	mc := signedRankCDF(m)
	at := func(t float64) float64 { // P(T+ <= t)
		i := int(math.Floor(t + 1e-9))
		switch {
		case i < 0:
			return 0
		case i >= len(mc):
			return 1
		}
		return mc[i]
	}
	max := float64(m * (m + 1) / 2)
	pLess := at(tPlus)                // head below base: T+ small
	pGreater := at(max - tPlus)       // by symmetry, P(T+ >= t) = P(T+ <= max - t)
	out.P = math.Min(pLess, pGreater) // one-sided, in the direction it moved
	return out
}

// signedRankCDF is the exact null distribution of the Wilcoxon
// signed-rank statistic for n pairs: cdf[t] = P(T+ <= t), t from 0 to
// n(n+1)/2. Each rank is in the sum with probability 1/2, so the counts
// of subsets of {1..n} by their sum give it.
func signedRankCDF(n int) []float64 {
	top := n * (n + 1) / 2
	counts := make([]float64, top+1)
	counts[0] = 1
	for r := 1; r <= n; r++ {
		for t := top; t >= r; t-- {
			counts[t] += counts[t-r]
		}
	}
	cdf := make([]float64, top+1)
	total, sum := math.Ldexp(1, n), 0.0
	for t, c := range counts {
		sum += c
		cdf[t] = sum / total
	}
	return cdf
}

// median of sorted values; 0 for none.
func median(sorted []float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
