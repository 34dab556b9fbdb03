package results

import (
	"errors"
	"math"
	"testing"
)

func TestFitUSLRecoversTheLaw(t *testing.T) {
	t.Parallel()
	law := USL{Sigma: 0.05, Kappa: 0.01}
	var sizes, speedups []float64
	for n := 1.0; n <= 8; n++ {
		sizes, speedups = append(sizes, n), append(speedups, law.Speedup(n))
	}
	got, err := FitUSL(sizes, speedups)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Sigma-0.05) > 1e-9 || math.Abs(got.Kappa-0.01) > 1e-9 || got.RMSE > 1e-9 {
		t.Errorf("fit %+v, want sigma 0.05, kappa 0.01, no error", got)
	}
	if want := math.Sqrt(0.95 / 0.01); math.Abs(got.Peak-want) > 1e-9 {
		t.Errorf("peak %v, want %v", got.Peak, want)
	}
}

// TestFitUSLKeepsCoefficientsMeaningful: speedups that grow faster than
// the workers (a cache effect) would fit a negative contention; the fit
// keeps σ and κ at 0 or above, and says how far off it is.
func TestFitUSLKeepsCoefficientsMeaningful(t *testing.T) {
	t.Parallel()
	got, err := FitUSL([]float64{1, 2, 3, 4}, []float64{1, 2.2, 3.5, 4.8})
	if err != nil {
		t.Fatal(err)
	}
	if got.Sigma != 0 || got.Kappa != 0 || got.Peak != 0 || got.RMSE <= 0 {
		t.Errorf("fit %+v, want sigma and kappa 0, no peak, an error above 0", got)
	}
	// Linear in contention alone: Amdahl's law is the USL with κ = 0.
	amdahl := USL{Sigma: 0.2}
	got, err = FitUSL([]float64{2, 4, 8}, []float64{amdahl.Speedup(2), amdahl.Speedup(4), amdahl.Speedup(8)})
	if err != nil || math.Abs(got.Sigma-0.2) > 1e-9 || got.Kappa != 0 || got.Peak != 0 {
		t.Errorf("fit of Amdahl's law %+v, %v; want sigma 0.2, kappa 0, no peak", got, err)
	}
}

func TestFitUSLNeedsTwoSizes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ sizes, speedups []float64 }{
		{[]float64{1, 2}, []float64{1, 1.9}},
		{[]float64{2, 2, 2}, []float64{1.8, 1.9, 2}},
		{[]float64{2, 3}, []float64{1.9, 0}}, // a size without a speedup
	} {
		if _, err := FitUSL(tt.sizes, tt.speedups); !errors.Is(err, ErrTooFewSizes) {
			t.Errorf("FitUSL(%v, %v): %v, want ErrTooFewSizes", tt.sizes, tt.speedups, err)
		}
	}
}

// TestRunScalingCurves: a run of clusters of 2, 3 and 4 workers gets one
// curve with a fit; a run of one size per policy gets none.
func TestRunScalingCurves(t *testing.T) {
	t.Parallel()
	law := USL{Sigma: 0.1, Kappa: 0.02}
	run := &Run{Schema: RunSchema, Config: RunConfig{N: 1}, Arms: []Arm{{ArmSpec: ArmSpec{Name: Standard, Mode: Standard, Workers: 1}}}}
	for _, n := range []int{2, 3, 4} {
		run.Arms = append(run.Arms, Arm{ArmSpec: ArmSpec{Name: ArmName(n, "free", true, false), Mode: Cluster, Workers: n, Sched: "free", Baseline: Standard}})
	}
	for round := 1; round <= 3; round++ {
		rd := Round{Round: round}
		for _, a := range run.Arms {
			last := 1000 / law.Speedup(float64(a.Workers))
			rd.Arms = append(rd.Arms, RoundSide{Arm: a.Name, Results: []Record{{Round: round, Status: 200, LatencyMs: last, EndMs: last}}})
		}
		run.Rounds = append(run.Rounds, rd)
	}
	if err := run.Validate(); err != nil {
		t.Fatal(err)
	}
	run.Derive()
	if len(run.Scaling) != 1 || len(run.Scaling[0].Points) != 3 || run.Scaling[0].Fit == nil {
		t.Fatalf("scaling %+v, want one curve of 3 points with a fit", run.Scaling)
	}
	if fit := run.Scaling[0].Fit; math.Abs(fit.Sigma-0.1) > 0.01 || math.Abs(fit.Kappa-0.02) > 0.005 {
		t.Errorf("fit %+v, want sigma ~0.1, kappa ~0.02 (speedups are rounded to 3 decimals)", fit)
	}
	if a := run.Arm("cluster/4w"); a == nil || a.Speedup.Efficiency != round3(a.Speedup.Median/4) {
		t.Errorf("arm cluster/4w %+v, want efficiency a quarter of its speedup", a)
	}
	two := fabricatedRun([][2]float64{{100, 50}})
	two.Arms = append(two.Arms, Arm{ArmSpec: ArmSpec{Name: Queue, Mode: Queue, Workers: 2, Reply: "wait", Baseline: Standard}})
	for i := range two.Rounds {
		two.Rounds[i].Arms = append(two.Rounds[i].Arms, RoundSide{Arm: Queue, Results: []Record{{Round: two.Rounds[i].Round, Status: 200, LatencyMs: 40, EndMs: 40}}})
	}
	if err := two.Validate(); err != nil {
		t.Fatal(err)
	}
	two.Derive()
	if len(two.Scaling) != 0 {
		t.Errorf("a run of one cluster has scaling %+v, want none", two.Scaling)
	}
	// A queue arm has its speedup, is not on the clusters' curve, and is
	// the run's primary arm (its speedup the run's) only when it has no
	// cluster.
	if q := two.Arm(Queue); q.Speedup.Median != 2.5 || q.Speedup.Efficiency != 1.25 || len(two.Scaled()) != 2 || two.Primary().Mode != Cluster {
		t.Errorf("queue arm speedup %+v, scaled arms %d, run's primary %s; want 2.5x (100/40), 1.25 a worker, 2, the cluster", q.Speedup, len(two.Scaled()), two.Primary().Name)
	}
	two.Arms, two.Rounds[0].Arms = []Arm{two.Arms[0], two.Arms[2]}, []RoundSide{two.Rounds[0].Arms[0], two.Rounds[0].Arms[2]}
	if err := two.Validate(); err != nil || two.Primary().Mode != Queue {
		t.Errorf("standard and queue alone: %v, primary %v; want valid, the queue its primary", err, two.Primary())
	}
	two.Arms[1].Baseline = Queue
	if err := two.Validate(); err == nil {
		t.Error("a queue arm whose baseline is not a standard arm is valid")
	}
}
