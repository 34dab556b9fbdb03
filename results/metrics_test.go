package results

import (
	"slices"
	"testing"
)

func TestMetricNamesAreUnique(t *testing.T) {
	t.Parallel()
	names := MetricNames()
	if len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
		t.Errorf("duplicate metric names in %v", names)
	}
	for _, name := range names {
		if _, ok := LookupMetric(name); !ok {
			t.Errorf("LookupMetric(%q) found nothing", name)
		}
	}
	if _, ok := LookupMetric("cluster.speedup"); ok {
		t.Error("LookupMetric found a metric that does not exist")
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
	errs, _ := LookupMetric("cluster.errors")
	rate, _ := LookupMetric("cluster.error_rate")
	if got := errs.Of(run); got != 1 {
		t.Errorf("cluster.errors of the run %v, want 1 (a count)", got)
	}
	if got := rate.Of(run); got != 100.0/3 {
		t.Errorf("cluster.error_rate of the run %v, want 33.3 (percent of 3 requests)", got)
	}
	if got := errs.PerRound(run); !slices.Equal(got, []float64{0, 1}) {
		t.Errorf("cluster.errors per round %v, want [0 1]", got)
	}
	if got := rate.PerRound(run); !slices.Equal(got, []float64{0, 50}) {
		t.Errorf("cluster.error_rate per round %v, want [0 50]", got)
	}
}

func TestSpeedupPerRoundSkipsRoundsWithoutOne(t *testing.T) {
	t.Parallel()
	run := fabricatedRun([][2]float64{{100, 50}, {100, 40}})
	run.Rounds[1].Side(Cluster).Results[0].Status = 0 // no response at all
	run.Derive()
	sp, _ := LookupMetric("speedup")
	eff, _ := LookupMetric("efficiency")
	if got := sp.PerRound(run); !slices.Equal(got, []float64{2}) {
		t.Errorf("speedup per round %v, want [2]: round 2 has no cluster response", got)
	}
	if got := eff.PerRound(run); !slices.Equal(got, []float64{1}) {
		t.Errorf("efficiency per round %v, want [1] (2x over 2 workers)", got)
	}
	if sp.Of(run) != 2 || run.Cluster().Speedup.Rounds != 1 {
		t.Errorf("speedup of the run %v over %d rounds, want 2 over 1", sp.Of(run), run.Cluster().Speedup.Rounds)
	}
}
