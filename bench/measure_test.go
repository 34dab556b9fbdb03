package bench

import (
	"context"
	"sync"
	"testing"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// TestRunLoadsThroughItsLoader: every load of a bench, warm-ups and
// measured bursts, goes through the bench's Loader, with the arm's URL.
func TestRunLoadsThroughItsLoader(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	loads := map[int]int{} // by burst size
	loader := LoaderFunc(func(ctx context.Context, cfg loadgen.Config) (*results.Summary, error) {
		mu.Lock()
		loads[cfg.Requests]++
		mu.Unlock()
		return loadgen.Run(ctx, cfg)
	})
	run, err := Run(context.Background(), Config{Servers: &fakeServers{}, Requests: 4, Rounds: 3, Loader: loader})
	if err != nil {
		t.Fatal(err)
	}
	// Warm-ups: one request for the standard arm, two for the cluster of
	// two; then 3 rounds of a burst of 4 at each arm.
	if loads[1] != 1 || loads[2] != 1 || loads[4] != 6 || len(run.Rounds) != 3 {
		t.Errorf("loads by size %v over %d rounds; want one warm-up of 1 and of 2, six bursts of 4", loads, len(run.Rounds))
	}
}

// twice is a measurement of another kind than a burst: two bursts of two
// requests, kept as one side of the round.
type twice struct{ warmed map[string]bool }

func (m *twice) WarmUp(ctx context.Context, t Target) error {
	m.warmed[t.Arm.Name] = true
	return nil
}

func (m *twice) Measure(ctx context.Context, t Target) (results.RoundSide, bool, error) {
	var side results.RoundSide
	for range 2 {
		sum, err := t.Load(ctx, loadgen.Config{Requests: 2})
		if err != nil || sum.Interrupted {
			return side, err == nil, err
		}
		side.Results = append(side.Results, sum.Results...)
	}
	return side, false, nil
}

// TestRunTakesAnyMeasurement: a measure step does what the bench's
// Measurement does, and the bench keeps what it returns with the arm,
// the round and the CPU time around it.
func TestRunTakesAnyMeasurement(t *testing.T) {
	t.Parallel()
	m := &twice{warmed: map[string]bool{}}
	run, err := Run(context.Background(), Config{Servers: &fakeServers{}, Requests: 4, Rounds: 2, Measurement: m})
	if err != nil {
		t.Fatal(err)
	}
	if !m.warmed[results.Standard] || !m.warmed[results.Cluster] {
		t.Errorf("warmed %v, want both arms", m.warmed)
	}
	for _, rd := range run.Rounds {
		for _, s := range rd.Arms {
			if len(s.Results) != 4 || s.Results[3].Round != rd.Round || s.Arm == "" {
				t.Errorf("round %d %q: %+v, want the 4 requests of two bursts of 2, of this round", rd.Round, s.Arm, s.Results)
			}
		}
	}
}
