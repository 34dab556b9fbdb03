package results

import (
	"slices"
	"strings"
	"testing"
)

// fabricatedLoad is a burst of n requests per round, all answered by pid
// 4242, as loadgen would record it.
func fabricatedLoad(n, rounds int) *Summary {
	s := &Summary{Schema: LoadSchema, URL: "http://127.0.0.1:1/flip", Mode: "burst", N: n, Rounds: rounds}
	for round := 1; round <= rounds; round++ {
		var recs []Record
		for i := range n {
			recs = append(recs, Record{Round: round, Seq: uint64(i), LatencyMs: 10, EndMs: 10, Status: 200, PID: 4242})
		}
		s.Results = append(s.Results, recs...)
		s.RoundStats = append(s.RoundStats, RoundSummary{Round: round, Stats: Summarize(recs)})
	}
	s.Stats = Combine(s.RoundStats, s.Results)
	return s
}

func TestMergeLoadsPoolsRoundsFromSeveralMachines(t *testing.T) {
	t.Parallel()
	a, b := fabricatedLoad(4, 2), fabricatedLoad(6, 2)
	m, err := MergeLoads([]string{"a.json", "b.json"}, []*Summary{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 20 || m.OK != 20 || len(m.RoundStats) != 2 || m.RoundStats[0].Requests != 10 || m.N != 10 {
		t.Errorf("merged: requests %d ok %d rounds %d round 1 %d n %d; want 20, 20, 2, 10, 10",
			m.Requests, m.OK, len(m.RoundStats), m.RoundStats[0].Requests, m.N)
	}
	if m.RequestsPerWorker["4242"] != 20 {
		t.Errorf("requests per worker %v, want 4242: 20", m.RequestsPerWorker)
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

// fabricatedRun is a run with one request a side per round, whose last
// responses are lasts[round] = {standard, cluster}.
func fabricatedRun(lasts [][2]float64) *Run {
	r := &Run{Schema: RunSchema, Env: Env{NumCPU: 2}, Config: RunConfig{N: 1}, Arms: []Arm{
		{ArmSpec: ArmSpec{Name: Standard, Mode: Standard, Workers: 1}},
		{ArmSpec: ArmSpec{Name: Cluster, Mode: Cluster, Workers: 2, Baseline: Standard}},
	}}
	for i, l := range lasts {
		rd := Round{Round: i + 1}
		for j, a := range r.Arms {
			rec := Record{Round: i + 1, Status: 200, LatencyMs: l[j], EndMs: l[j]}
			rd.Arms = append(rd.Arms, RoundSide{Arm: a.Name, Results: []Record{rec}})
		}
		r.Rounds = append(r.Rounds, rd)
	}
	r.Derive()
	return r
}

func TestMergeRuns(t *testing.T) {
	t.Parallel()
	a := fabricatedRun([][2]float64{{100, 50}, {100, 40}})
	b := fabricatedRun([][2]float64{{90, 45}, {120, 60}, {100, 100}})
	m, err := MergeRuns([]string{"a", "b"}, []*Run{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Rounds != 5 || len(m.Rounds) != 5 || m.Rounds[4].Round != 5 || m.Rounds[4].Side(Cluster).Results[0].Round != 5 {
		t.Fatalf("merged %d rounds, want 5 numbered 1..5", m.Config.Rounds)
	}
	if want := []float64{2, 2.5, 2, 2, 1}; !slices.Equal(m.Speedups(Cluster), want) || m.Primary().Speedup.Median != 2 {
		t.Errorf("speedups %v median %v, want %v and median 2", m.Speedups(Cluster), m.Primary().Speedup.Median, want)
	}
	if a.Rounds[0].Side(Standard).Results[0].Source != "" {
		t.Error("MergeRuns changed its input")
	}
	b.Env.NumCPU = 8
	if _, err := MergeRuns([]string{"a", "b"}, []*Run{a, b}); err == nil {
		t.Error("merged runs from 2 and 8 CPUs")
	}
	b.Env.NumCPU = 2
	b.Arms[1].Sched = "rr"
	if _, err := MergeRuns([]string{"a", "b"}, []*Run{a, b}); err == nil {
		t.Error("merged runs of different policies")
	}
}

// TestMergeRefusesWhatWouldCountTwice: the same measurements given twice
// (one file twice, or a copy) would double the rounds and tighten every
// interval; loads of different round counts cannot have been sent
// together (a 1-round and a 2-round file used to make "burst of 20, 2
// rounds" of 30 requests).
func TestMergeRefusesWhatWouldCountTwice(t *testing.T) {
	t.Parallel()
	run := fabricatedRun([][2]float64{{100, 50}, {100, 40}})
	copied := *run
	if _, err := MergeRuns([]string{"a.json", "copy.json"}, []*Run{run, &copied}); err == nil ||
		!strings.Contains(err.Error(), "a.json and copy.json hold the same measurements") {
		t.Errorf("a run merged with its copy: %v", err)
	}
	load := fabricatedLoad(4, 2)
	if _, err := MergeLoads([]string{"a.json", "a.json"}, []*Summary{load, load}); err == nil ||
		!strings.Contains(err.Error(), "the same measurements") {
		t.Errorf("a load merged with itself: %v", err)
	}
	if _, err := MergeLoads([]string{"one.json", "two.json"}, []*Summary{fabricatedLoad(10, 1), fabricatedLoad(10, 2)}); err == nil ||
		err.Error() != "one.json has 1 round and two.json 2 rounds: loads sent together from several machines have the same rounds" {
		t.Errorf("a 1-round and a 2-round load merged: %v", err)
	}
}
