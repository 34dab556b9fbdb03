package results

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// mustMetric resolves name against r's arms of one build.
func mustMetric(t *testing.T, r *Run, name string) Metric {
	t.Helper()
	m, err := r.Metric(name, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMetricNamesParse(t *testing.T) {
	t.Parallel()
	names := MetricNames()
	if len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
		t.Errorf("duplicate metric names in %v", names)
	}
	for _, name := range names {
		if _, err := ParseMetric(name, false); err != nil {
			t.Errorf("ParseMetric(%q): %v", name, err)
		}
	}
	for _, tt := range []struct {
		name string
		bare bool
	}{{"cluster.bogus", true}, {".p99", true}, {"p99", false}, {"bogus", true}} {
		if _, err := ParseMetric(tt.name, tt.bare); !errors.Is(err, ErrUnknownMetric) {
			t.Errorf("ParseMetric(%q, bare %v): %v, want ErrUnknownMetric", tt.name, tt.bare, err)
		}
	}
	if m, err := ParseMetric("p99", true); err != nil || m.Arm != "" || m.Field != "p99" || !m.IsTime() {
		t.Errorf("a bare field: %+v %v", m, err)
	}
}

// TestErrorsMeanOneThing pins errors as a count and error_rate as a
// percentage, for the run as a whole and round by round alike.
func TestErrorsMeanOneThing(t *testing.T) {
	t.Parallel()
	run := fabricatedRun([][2]float64{{100, 50}, {100, 50}})
	// Round 2's cluster: one more request, which failed.
	rd := run.Rounds[1].Side(Cluster)
	rd.Results = append(rd.Results, Record{Round: 2, Status: 500, LatencyMs: 5, EndMs: 5, Kind: "http_500"})
	run.Derive()
	errs, rate := mustMetric(t, run, "cluster.errors"), mustMetric(t, run, "cluster.error_rate")
	cl := run.Arm(Cluster)
	if got := errs.Of(run); got != 1 {
		t.Errorf("cluster.errors of the run %v, want 1 (a count)", got)
	}
	if got := rate.Of(run); got != 100.0/3 {
		t.Errorf("cluster.error_rate of the run %v, want 33.3 (percent of 3 requests)", got)
	}
	if got := errs.PerRound(run, cl); !slices.Equal(got, []float64{0, 1}) {
		t.Errorf("cluster.errors per round %v, want [0 1]", got)
	}
	if got := rate.PerRound(run, cl); !slices.Equal(got, []float64{0, 50}) {
		t.Errorf("cluster.error_rate per round %v, want [0 50]", got)
	}
}

func TestSpeedupPerRoundSkipsRoundsWithoutOne(t *testing.T) {
	t.Parallel()
	run := fabricatedRun([][2]float64{{100, 50}, {100, 40}})
	run.Rounds[1].Side(Cluster).Results[0].Status = 0 // no response at all
	run.Derive()
	sp, eff := mustMetric(t, run, "speedup"), mustMetric(t, run, "efficiency")
	cl := run.Arm(Cluster)
	if got := sp.PerRound(run, cl); !slices.Equal(got, []float64{2}) {
		t.Errorf("speedup per round %v, want [2]: round 2 has no cluster response", got)
	}
	if got := eff.PerRound(run, cl); !slices.Equal(got, []float64{1}) {
		t.Errorf("efficiency per round %v, want [1] (2x over 2 workers)", got)
	}
	if sp.Of(run) != 2 || run.Primary().Speedup.Rounds != 1 {
		t.Errorf("speedup of the run %v over %d rounds, want 2 over 1", sp.Of(run), run.Primary().Speedup.Rounds)
	}
}

// TestNoSpeedupFromFailures: a round in which every request of an arm
// failed, fast, has no speedup (it used to be one of the run's, a
// truncated image giving "0.98x"), and Check names every arm that
// failed, with its kinds, not the first alone.
func TestNoSpeedupFromFailures(t *testing.T) {
	t.Parallel()
	run := fabricatedRun([][2]float64{{100, 50}, {100, 40}})
	for _, arm := range []string{Standard, Cluster} {
		for i := range run.Rounds[1].Side(arm).Results {
			r := &run.Rounds[1].Side(arm).Results[i]
			r.Status, r.Error, r.Kind = 413, "413 Request Entity Too Large", "http_413"
		}
	}
	run.Derive()
	if got := mustMetric(t, run, "speedup").PerRound(run, run.Arm(Cluster)); !slices.Equal(got, []float64{2}) {
		t.Errorf("speedup per round %v, want [2]: in round 2 both arms only failed", got)
	}
	err := run.Check()
	want := "standard: 1 of 2 requests failed (http_413: 1); cluster: 1 of 2 requests failed (http_413: 1)"
	if !errors.Is(err, ErrFailedRequests) || err.Error() != want {
		t.Errorf("Check: %v, want %q", err, want)
	}
}

// TestMetricsByArmName: a queue arm's figures are queue.*, never a silent
// cluster.*; a mode's name is its first arm's; one figure has one name
// however it is asked for.
func TestMetricsByArmName(t *testing.T) {
	t.Parallel()
	run := fabricatedRun([][2]float64{{100, 50}, {100, 40}})
	run.Arms[1].Name, run.Arms[1].Mode = Queue, Queue
	for i := range run.Rounds {
		run.Rounds[i].Arms[1].Arm = Queue
	}
	run.Derive()
	if m := mustMetric(t, run, "queue.last"); m.Arm != Queue || m.Of(run) != 45 {
		t.Errorf("queue.last: arm %q, value %v; want the queue arm's 45 ms", m.Arm, m.Of(run))
	}
	if m := mustMetric(t, run, "speedup"); m.Arm != Queue || m.Name != "speedup" {
		t.Errorf("speedup reads %q as %q, want the queue arm (the run's primary)", m.Arm, m.Name)
	}
	if m := mustMetric(t, run, "queue.speedup"); m.Name != "speedup" {
		t.Errorf("queue.speedup is called %q; the primary arm's speedup is the run's, \"speedup\"", m.Name)
	}
	_, err := run.Metric("cluster.p99", "")
	if !errors.Is(err, ErrUnknownMetric) || !strings.Contains(err.Error(), "its arms: standard, queue") {
		t.Errorf("cluster.p99 of a run without a cluster: %v, want an error naming its arms", err)
	}
	if _, err := run.Metric("standard.speedup", ""); !errors.Is(err, ErrUnknownMetric) {
		t.Errorf("standard.speedup: %v, want ErrUnknownMetric", err)
	}
	var names []string
	for _, m := range run.Metrics("") {
		names = append(names, m.Name)
	}
	if names[0] != "speedup" || names[1] != "efficiency" || !slices.Contains(names, "queue.p99") || slices.Contains(names, "queue.speedup") || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "cluster.") }) {
		t.Errorf("metrics %v", names)
	}

	sizes := fabricatedRun([][2]float64{{100, 50}})
	sizes.Arms[1].Name = "cluster/2w"
	sizes.Rounds[0].Arms[1].Arm = "cluster/2w"
	sizes.Derive()
	if m := mustMetric(t, sizes, "cluster.p99"); m.Name != "cluster/2w.p99" {
		t.Errorf("cluster.p99 of a run of cluster/2w is called %q, want cluster/2w.p99", m.Name)
	}
}

// TestPairsOfEveryKind: a paired run pairs every arm of the head build
// with the base build's of the same name, queues and standards included.
func TestPairsOfEveryKind(t *testing.T) {
	t.Parallel()
	run := &Run{Config: RunConfig{Builds: []Build{{Name: Base}, {Name: Head}}}}
	for _, b := range []string{Base, Head} {
		std := BuildArmName(b, Standard)
		run.Arms = append(run.Arms, Arm{ArmSpec: ArmSpec{Name: std, Build: b, Mode: Standard, Workers: 1}},
			Arm{ArmSpec: ArmSpec{Name: BuildArmName(b, Queue), Build: b, Mode: Queue, Workers: 2, Baseline: std}})
	}
	var names []string
	for _, p := range run.Pairs() {
		names = append(names, p.Name)
		if p.Base.Build != Base || p.Head.Build != Head {
			t.Errorf("pair %s: %s and %s", p.Name, p.Base.Name, p.Head.Name)
		}
	}
	if !slices.Equal(names, []string{Standard, Queue}) {
		t.Errorf("pairs %v, want standard and queue", names)
	}
	if m, err := run.Metric("speedup", Head); err != nil || m.Arm != Queue {
		t.Errorf("the head build's speedup: %+v, %v; want the queue's", m, err)
	}
}

// TestServiceTimesAreChecked: job times that add up, in a round, to more
// than the arm's workers could serve in it (a Koa server's
// X-Response-Time counts the wait on its event loop) are left out, with
// the ideal; a worker's own job times are kept.
func TestServiceTimesAreChecked(t *testing.T) {
	t.Parallel()
	serial := func(jobOf func(k int) float64) *Run {
		run := fabricatedRun([][2]float64{{1000, 500}})
		run.Arms[0].Command, run.Arms[1].Command = "node standard.js", "node cluster.js"
		var recs []Record
		for k := 1; k <= 10; k++ { // one worker, ten jobs of 100 ms in turn
			end := float64(100 * k)
			recs = append(recs, Record{Round: 1, Seq: uint64(k - 1), Status: 200, LatencyMs: end, EndMs: end, JobMs: jobOf(k)})
		}
		run.Rounds[0].Arms[0].Results = recs
		run.Config.N = 10
		run.Derive()
		return run
	}
	koa := serial(func(k int) float64 { return float64(100 * k) }) // waiting included: 5.5 s in 1 s
	if a := koa.Arm(Standard); !a.JobMsRefused || a.JobMs != 0 || a.IdealLastMs != 0 {
		t.Errorf("times that count waiting: refused %v, job %v ms, ideal %v ms; want refused, both unknown", a.JobMsRefused, a.JobMs, a.IdealLastMs)
	}
	worker := serial(func(int) float64 { return 100 }) // the job alone: 1 s in 1 s
	if a := worker.Arm(Standard); a.JobMsRefused || a.JobMs != 100 || a.IdealLastMs != 1000 {
		t.Errorf("service times: refused %v, job %v ms, ideal %v ms; want kept, 100 and 1000", a.JobMsRefused, a.JobMs, a.IdealLastMs)
	}
}
