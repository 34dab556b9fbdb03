package verdict

import (
	"math"
	"math/rand/v2"
	"slices"

	"golang.org/x/perf/benchmath"

	"github.com/flipbench/flipbench/results"
)

// comparePairedMetric compares per-round values: base[i] and head[i]
// were measured in round i (NaN: the round has none).
func comparePairedMetric(m results.Metric, base, head []float64, thr *benchmath.Thresholds, maxReg float64, resamples int, rng *rand.Rand) Delta {
	var b, h, q []float64
	for i := range base {
		if math.IsNaN(base[i]) || math.IsNaN(head[i]) {
			continue
		}
		b, h = append(b, base[i]), append(h, head[i])
		if base[i] > 0 && head[i] > 0 {
			q = append(q, head[i]/base[i])
		}
	}
	if len(q) < len(b) || len(q) == 0 {
		// Counts that may be zero have no per-round ratio: as two samples.
		return compareMetric(m, b, h, thr, maxReg, resamples, rng)
	}
	d := newDelta(m, b, h, thr)
	if constant(q) && q[0] == 1 {
		d.P, d.RatioLo, d.RatioHi, d.Verdict = 1, 1, 1, VerdictNoChange
		return d
	}
	d.setVerdict(pairedRatio(q, thr.CompareAlpha), thr.CompareAlpha, maxReg)
	return d
}

// compareMetric compares two independent samples of m, base's rounds
// and head's: each side's median and interval, and head/base with its
// bounds and p-value.
func compareMetric(m results.Metric, base, head []float64, thr *benchmath.Thresholds, maxReg float64, resamples int, rng *rand.Rand) Delta {
	d := newDelta(m, base, head, thr)
	for _, v := range [][]float64{base, head} {
		for _, w := range benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(v), thr), DefaultConfidence).Warnings {
			d.Warnings = appendUnique(d.Warnings, w.Error())
		}
	}
	if constant(base) && constant(head) && d.Base.Median == d.Head.Median {
		// Nothing varies (no errors on either side, say): no change, and
		// the rank test has nothing to rank.
		d.P, d.RatioLo, d.RatioHi, d.Verdict = 1, 1, 1, VerdictNoChange
		return d
	}
	var ri ratioInterval
	if positive(base) && positive(head) {
		// Times, throughputs, speedups: head/base as the Hodges-Lehmann
		// ratio, bounded by inverting the U test, so that the change
		// printed is the quantity gated and the bounds' coverage holds
		// at any round count.
		ri = shiftRatio(base, head, thr.CompareAlpha)
	} else {
		// Counts that may be zero (failed requests) have no logs: the
		// ratio of means, bootstrapped, with the U test's p-value.
		ri = meanRatio(base, head, thr.CompareAlpha, resamples, rng)
	}
	d.setVerdict(ri, thr.CompareAlpha, maxReg)
	return d
}

// setVerdict records the ratio and its bounds and decides: a regression
// is significant (P <= alpha) and its one-sided bound lies beyond the
// threshold in the bad direction.
func (d *Delta) setVerdict(ri ratioInterval, alpha, maxReg float64) {
	d.ChangePct = (ri.Est - 1) * 100
	d.P, d.RatioLo, d.RatioHi = ri.P, ri.Lo, ri.Hi
	worse := (ri.Est < 1) == d.HigherIsBetter
	if ri.Est == 1 {
		worse = false
	}
	switch {
	case d.P > alpha:
		d.Verdict = VerdictNoChange
	case worse && d.HigherIsBetter && d.RatioHi < 1-maxReg, worse && !d.HigherIsBetter && d.RatioLo > 1+maxReg:
		d.Verdict = VerdictRegression
	case !worse && d.HigherIsBetter && d.RatioLo > 1+maxReg, !worse && !d.HigherIsBetter && d.RatioHi < 1-maxReg:
		d.Verdict = VerdictImprovement
	default:
		d.Verdict = VerdictSmall
	}
}

func positive(v []float64) bool {
	for _, x := range v {
		if !(x > 0) || math.IsInf(x, 0) {
			return false
		}
	}
	return len(v) > 0
}

// newDelta starts the comparison of m: each side's median and interval.
func newDelta(m results.Metric, base, head []float64, thr *benchmath.Thresholds) Delta {
	return Delta{Metric: m.Name, Unit: m.Unit, HigherIsBetter: m.HigherIsBetter,
		Base: summarize(benchmath.NewSample(slices.Clone(base), thr)),
		Head: summarize(benchmath.NewSample(slices.Clone(head), thr))}
}

func summarize(s *benchmath.Sample) Stat {
	sum := benchmath.AssumeNothing.Summary(s, DefaultConfidence)
	return Stat{Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, N: len(s.Values)}
}

func constant(v []float64) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return true
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
