package loadgen

import (
	"context"
	"strings"
	"testing"
)

func TestMergeLoadsPoolsRoundsFromSeveralMachines(t *testing.T) {
	t.Parallel()
	ts, _ := newCountingServer(t, 0)
	a, err := Run(context.Background(), Config{URL: ts.URL, Requests: 4, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), Config{URL: ts.URL, Requests: 6, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	m, err := MergeLoads([]string{"a.json", "b.json"}, []*Summary{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 20 || m.OK != 20 || len(m.RoundStats) != 2 || m.RoundStats[0].Requests != 10 || m.N != 10 {
		t.Errorf("merged: requests %d ok %d rounds %d round 1 %d n %d; want 20, 20, 2, 10, 10",
			m.Requests, m.OK, len(m.RoundStats), m.RoundStats[0].Requests, m.N)
	}
	if m.Workers["4242"] != 20 {
		t.Errorf("workers %v, want 4242: 20", m.Workers)
	}
	sources := map[string]int{}
	for _, r := range m.Results {
		sources[r.Source]++
	}
	if sources["a.json"] != 8 || sources["b.json"] != 12 {
		t.Errorf("sources %v, want a.json: 8, b.json: 12", sources)
	}
	a.Mode = "rate"
	if _, err := MergeLoads([]string{"a.json", "b.json"}, []*Summary{a, b}); err == nil || !strings.Contains(err.Error(), "one mode") {
		t.Errorf("merging a rate and a burst run: %v, want an error", err)
	}
}

func fabricatedRun(lasts [][2]float64) *BenchRun {
	r := &BenchRun{Schema: RunSchema, Env: Env{NumCPU: 2}, Config: RunSetup{N: 1, Workers: 2},
		Modes: []ModeRun{{Mode: ModeStandard, Workers: 1}, {Mode: ModeCluster, Workers: 2}}}
	for i, l := range lasts {
		for m := range 2 {
			rec := Record{Round: i + 1, Status: 200, LatencyMs: l[m], EndMs: l[m]}
			r.Modes[m].Rounds = append(r.Modes[m].Rounds, ModeRound{Round: i + 1, Stats: summarize([]Record{rec}), Results: []Record{rec}})
		}
	}
	r.Speedup = speedup(r.Modes[0].Rounds, r.Modes[1].Rounds, 2)
	return r
}

func TestMergeRuns(t *testing.T) {
	t.Parallel()
	a := fabricatedRun([][2]float64{{100, 50}, {100, 40}})
	b := fabricatedRun([][2]float64{{90, 45}, {120, 60}, {100, 100}})
	m, err := MergeRuns([]string{"a", "b"}, []*BenchRun{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Rounds != 5 || len(m.Modes[1].Rounds) != 5 || m.Modes[1].Rounds[4].Round != 5 {
		t.Fatalf("merged %d rounds, want 5 numbered 1..5", m.Config.Rounds)
	}
	if want := []float64{2, 2.5, 2, 2, 1}; len(m.Speedup.PerRound) != 5 || m.Speedup.Median != 2 {
		t.Errorf("speedup %+v, want per round %v and median 2", m.Speedup, want)
	}
	if a.Modes[0].Rounds[0].Results[0].Source != "" {
		t.Error("MergeRuns changed its input")
	}
	b.Env.NumCPU = 8
	if _, err := MergeRuns([]string{"a", "b"}, []*BenchRun{a, b}); err == nil {
		t.Error("merged runs from 2 and 8 CPUs")
	}
}
