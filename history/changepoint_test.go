package history

import (
	"math"
	"testing"
)

// TestDetectErrorRates pins the headline cells of scripts/changepoint
// (400 fabricated series of 50 points each, seeded): a series without a
// change is flagged about 5% of the time (the permutation test's level);
// a 10% step under 5% noise and a 30% step under 15% noise, in the
// middle or 8 points from the end, are found in at least 90% of series.
// Locating them within one point is bounded by the noise: a step of two
// standard deviations leaves the best estimator (the least-squares one
// does no better here) about 80% within one point.
func TestDetectErrorRates(t *testing.T) {
	if raceDetector {
		t.Skip("sequential arithmetic, a minute under the race detector: the plain pass runs it")
	}
	t.Parallel()
	const trials = 400
	for _, tt := range []struct {
		c                 SeriesCase
		maxFlagged        float64 // no change: false alarms
		minFound, minNear float64
	}{
		{SeriesCase{Points: 50, At: 25, Sigma: 0.05}, 0.08, 0, 0},
		{SeriesCase{Points: 50, At: 25, Sigma: 0.15, Lognormal: true}, 0.08, 0, 0},
		{SeriesCase{Points: 50, At: 25, Step: 0.10, Sigma: 0.05}, 1, 0.95, 0.70},
		{SeriesCase{Points: 50, At: 42, Step: 0.10, Sigma: 0.05, Lognormal: true}, 1, 0.90, 0.65},
		{SeriesCase{Points: 50, At: 25, Step: 0.30, Sigma: 0.15}, 1, 0.95, 0.70},
		{SeriesCase{Points: 50, At: 42, Step: 0.30, Sigma: 0.15, Lognormal: true}, 1, 0.90, 0.60},
	} {
		flagged, near := tt.c.Rates(trials, 1, DetectOptions{})
		t.Logf("%+v: flagged %.1f%%, within one point %.1f%%", tt.c, 100*flagged, 100*near)
		if flagged > tt.maxFlagged || flagged < tt.minFound || near < tt.minNear {
			t.Errorf("%+v: flagged %.1f%%, within one point %.1f%%; want flagged in [%.0f%%, %.0f%%], within one point >= %.0f%%",
				tt.c, 100*flagged, 100*near, 100*tt.minFound, 100*tt.maxFlagged, 100*tt.minNear)
		}
	}
}

func TestDetectNamesTheChange(t *testing.T) {
	t.Parallel()
	// Twelve runs at 100 ms, then eight at 130: one change, at run 12,
	// up by 30%.
	var v []float64
	for i := range 20 {
		x := 100 + float64(i%3) // a little noise, the same on both sides
		if i >= 12 {
			x *= 1.3
		}
		v = append(v, x)
	}
	cps := Detect(v, DetectOptions{})
	if len(cps) != 1 || cps[0].Index != 12 || math.Abs(cps[0].ChangePct-30) > 1 || cps[0].P > 0.05 {
		t.Fatalf("change points %+v, want one at 12 of +30%%", cps)
	}
	// No change: nothing, and a series too short to split is no error.
	if cps := Detect([]float64{100, 101, 99, 100, 102, 98, 100, 101, 99, 100}, DetectOptions{}); len(cps) != 0 {
		t.Errorf("a flat series: %+v", cps)
	}
	if cps := Detect([]float64{100, 130}, DetectOptions{}); len(cps) != 0 {
		t.Errorf("two points: %+v", cps)
	}
	// One history, one answer.
	a, b := Detect(v, DetectOptions{Seed: 7}), Detect(v, DetectOptions{Seed: 7})
	if len(a) != len(b) || a[0] != b[0] {
		t.Errorf("the same series and seed gave %+v and %+v", a, b)
	}
}
