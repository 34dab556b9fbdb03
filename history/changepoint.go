package history

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flipbench/flipbench/results"
)

// ChangePoint is where a series' level changes.
type ChangePoint struct {
	// Index is the first point after the change.
	Index int `json:"index"`
	// Before and After are the medians of the segments on either side
	// (up to the neighbouring change points); ChangePct is After over
	// Before, in percent, and 0 when Before is 0 (an error rate that
	// rose from none: After says how far).
	Before    float64 `json:"before"`
	After     float64 `json:"after"`
	ChangePct float64 `json:"change_pct"`
	// P is the permutation test's p-value when the change was found.
	P float64 `json:"p"`
}

// DetectOptions tune [Detect].
type DetectOptions struct {
	// Alpha is the significance level of each split; zero means 0.05.
	// The first split's test is a test of "no change anywhere", so a
	// series without a change is flagged at most Alpha of the time.
	Alpha float64
	// Permutations is the number of shuffles behind each p-value; zero
	// means 199.
	Permutations int
	// MinSize is the fewest points a segment keeps; zero means 3.
	MinSize int
	// Seed seeds the shuffles, so that one history gives one answer.
	Seed uint64
}

func (o DetectOptions) withDefaults() DetectOptions {
	o.Alpha = cmp.Or(o.Alpha, 0.05)
	o.Permutations = cmp.Or(o.Permutations, 199)
	o.MinSize = cmp.Or(o.MinSize, 3)
	return o
}

// Detect finds the change points of a series by E-divisive means
// (Matteson and James, 2014; the method of MongoDB's performance CI and
// of Apache Otava), on the logarithms of positive figures, so that a
// change is a ratio whatever the figure's scale (on the figures
// themselves where one is 0, as error rates are): the segment whose best
// split most separates its two sides is split, if a permutation test
// says the split is significant, and so on until none is.
func Detect(values []float64, opt DetectOptions) []ChangePoint {
	opt = opt.withDefaults()
	x := slices.Clone(values)
	if slices.IndexFunc(values, func(v float64) bool { return v <= 0 }) < 0 {
		for i, v := range values {
			x[i] = math.Log(v)
		}
	}
	rng := rand.New(rand.NewPCG(opt.Seed, uint64(len(values))))
	bounds := []int{0, len(x)}
	var found []ChangePoint
	for {
		best, lo, hi, q := -1, 0, 0, 0.0
		for i := 0; i+1 < len(bounds); i++ {
			if tau, qi := bestSplit(x[bounds[i]:bounds[i+1]], opt.MinSize); tau > 0 && qi > q {
				best, lo, hi, q = bounds[i]+tau, bounds[i], bounds[i+1], qi
			}
		}
		if best < 0 {
			break
		}
		p := permutationP(x[lo:hi], q, opt, rng)
		if p > opt.Alpha {
			break
		}
		found = append(found, ChangePoint{Index: best, P: p})
		bounds = append(bounds, best)
		slices.Sort(bounds)
	}
	slices.SortFunc(found, func(a, b ChangePoint) int { return a.Index - b.Index })
	for i := range found {
		lo, hi := 0, len(values)
		if i > 0 {
			lo = found[i-1].Index
		}
		if i+1 < len(found) {
			hi = found[i+1].Index
		}
		found[i].Before = median(values[lo:found[i].Index])
		found[i].After = median(values[found[i].Index:hi])
		if found[i].Before != 0 {
			found[i].ChangePct = 100 * (found[i].After/found[i].Before - 1)
		}
	}
	return found
}

// permutationP is the share of shuffles of x whose best split separates
// as much as q or more (the observed order counted as one of them).
func permutationP(x []float64, q float64, opt DetectOptions, rng *rand.Rand) float64 {
	shuffled := slices.Clone(x)
	atLeast := 1
	for range opt.Permutations {
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if _, qs := bestSplit(shuffled, opt.MinSize); qs >= q {
			atLeast++
		}
	}
	return float64(atLeast) / float64(opt.Permutations+1)
}

// bestSplit returns the split of x (the index of its right part's first
// point) that maximises the E-statistic Q = mk/(m+k) * (2B/mk - 2L/m² -
// 2R/k²), with B the summed distances across the split and L, R those
// within each side, and that Q; 0 when x is too short to split. Moving
// the split one point right updates B, L and R in O(n), so all splits
// cost O(n²).
func bestSplit(x []float64, minSize int) (int, float64) {
	n := len(x)
	if n < 2*minSize {
		return 0, 0
	}
	var left, right, across float64 // L, R, B with the split at 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			right += math.Abs(x[i] - x[j])
		}
	}
	best, bestQ := 0, math.Inf(-1)
	for tau := 1; tau <= n-minSize; tau++ {
		// Point tau-1 moves from the right side to the left.
		p := tau - 1
		var toLeft, toRight float64
		for i := 0; i < p; i++ {
			toLeft += math.Abs(x[i] - x[p])
		}
		for j := p + 1; j < n; j++ {
			toRight += math.Abs(x[p] - x[j])
		}
		left += toLeft
		right -= toRight
		across += toRight - toLeft
		if tau < minSize {
			continue
		}
		m, k := float64(tau), float64(n-tau)
		q := m * k / (m + k) * (2*across/(m*k) - 2*left/(m*m) - 2*right/(k*k))
		if q > bestQ {
			best, bestQ = tau, q
		}
	}
	return best, bestQ
}

// median is the median of v, which it leaves as it is.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return results.Percentile(s, 50)
}
