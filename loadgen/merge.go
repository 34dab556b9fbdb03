package loadgen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// MergeLoads pools load summaries taken at the same time from several
// machines against one server, to report load that no single machine
// could drive: rounds are matched by number, their requests pooled, and
// every statistic recomputed. Each request keeps its offsets from its own
// machine's round start (machines' clocks are not compared) and is marked
// with its source name.
func MergeLoads(names []string, sums []*Summary) (*Summary, error) {
	if len(sums) == 0 {
		return nil, errors.New("nothing to merge")
	}
	first := sums[0]
	out := &Summary{
		Schema: LoadSchema, URL: first.URL, Method: first.Method, Mode: first.Mode,
		Rate: first.Rate, Duration: first.Duration, BodyB: first.BodyB, Started: first.Started,
	}
	byRound := map[int][]Record{}
	for i, s := range sums {
		if s.Schema != LoadSchema {
			return nil, fmt.Errorf("%s: schema %q, want %q", names[i], s.Schema, LoadSchema)
		}
		if s.Mode != first.Mode {
			return nil, fmt.Errorf("%s is a %s run and %s a %s run: merge runs of one mode", names[0], first.Mode, names[i], s.Mode)
		}
		if s.URL != out.URL {
			out.URL = "(several)"
		}
		out.N += s.N
		out.Rounds = max(out.Rounds, s.Rounds)
		out.WallMs = max(out.WallMs, s.WallMs)
		out.Interrupted = out.Interrupted || s.Interrupted
		out.Started = min(out.Started, s.Started)
		for _, r := range s.Results {
			r.Source = names[i]
			byRound[r.Round] = append(byRound[r.Round], r)
		}
	}
	for _, round := range slices.Sorted(maps.Keys(byRound)) {
		recs := byRound[round]
		out.Results = append(out.Results, recs...)
		out.RoundStats = append(out.RoundStats, RoundSummary{Round: round, Stats: summarize(recs)})
	}
	out.Stats = combine(out.RoundStats, out.Results)
	return out, nil
}

// MergeRuns pools the rounds of several bench runs of one setup (same CPU
// count, image and cluster size), as if they were one longer run: more
// rounds give a tighter interval for the speedup.
func MergeRuns(names []string, runs []*BenchRun) (*BenchRun, error) {
	if len(runs) == 0 {
		return nil, errors.New("nothing to merge")
	}
	first := runs[0]
	out := &BenchRun{
		Schema: RunSchema, Env: first.Env, Config: first.Config, Started: first.Started,
		Order: []string{},
		Modes: []ModeRun{
			{Mode: ModeStandard, Workers: 1, Rounds: []ModeRound{}},
			{Mode: ModeCluster, Workers: first.Config.Workers, Rounds: []ModeRound{}},
		},
	}
	out.Config.Rounds = 0
	for i, r := range runs {
		switch {
		case r.Schema != RunSchema:
			return nil, fmt.Errorf("%s: schema %q, want %q", names[i], r.Schema, RunSchema)
		case len(r.Modes) != 2:
			return nil, fmt.Errorf("%s: %d modes, want standard and cluster", names[i], len(r.Modes))
		case r.Env.NumCPU != first.Env.NumCPU || r.Config.Image.SHA256 != first.Config.Image.SHA256 ||
			r.Config.Workers != first.Config.Workers || r.Config.N != first.Config.N:
			return nil, fmt.Errorf("%s and %s measured different setups (CPUs, image, workers or -n): their rounds cannot be pooled", names[0], names[i])
		}
		n := min(len(r.Modes[0].Rounds), len(r.Modes[1].Rounds))
		for m := range out.Modes {
			for _, round := range r.Modes[m].Rounds[:n] {
				round.Round = len(out.Modes[m].Rounds) + 1
				round.Results = slices.Clone(round.Results)
				if round.ActiveMs == 0 && len(round.Results) > 0 {
					round.Stats = summarize(round.Results) // a file from before active_ms
				}
				for j := range round.Results {
					round.Results[j].Round = round.Round
					round.Results[j].Source = names[i]
				}
				out.Modes[m].Rounds = append(out.Modes[m].Rounds, round)
			}
		}
		out.Config.Rounds += n
		out.Order = append(out.Order, r.Order...)
		out.WallMs += r.WallMs
		out.Interrupted = out.Interrupted || r.Interrupted
		out.Started = min(out.Started, r.Started)
	}
	for i := range out.Modes {
		out.Modes[i].Stats = combineModeRounds(out.Modes[i].Rounds)
	}
	out.Speedup = speedup(out.Modes[0].Rounds, out.Modes[1].Rounds, out.Config.Workers)
	return out, nil
}
