package results

import (
	"errors"
	"fmt"
	"hash/fnv"
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
	seen := map[string]string{}
	for i, s := range sums {
		if s.Schema != LoadSchema {
			return nil, fmt.Errorf("%s: schema %q, want %q", names[i], s.Schema, LoadSchema)
		}
		if s.Mode != first.Mode {
			return nil, fmt.Errorf("%s is a %s run and %s a %s run: merge runs of one mode", names[0], first.Mode, names[i], s.Mode)
		}
		if len(s.RoundStats) != len(first.RoundStats) {
			return nil, fmt.Errorf("%s has %s and %s %s: loads sent together from several machines have the same rounds",
				names[0], plural(len(first.RoundStats), "round"), names[i], plural(len(s.RoundStats), "round"))
		}
		if err := once(seen, names[i], s.Started, s.WallMs, s.Results); err != nil {
			return nil, err
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
		out.RoundStats = append(out.RoundStats, RoundSummary{Round: round, Stats: Summarize(recs)})
	}
	out.Stats = Combine(out.RoundStats, out.Results)
	return out, nil
}

// MergeRuns pools the rounds of several bench runs of one setup (same CPU
// count, image, burst size and arms), as if they were one longer run:
// more rounds give a tighter interval for the speedup.
func MergeRuns(names []string, runs []*Run) (*Run, error) {
	if len(runs) == 0 {
		return nil, errors.New("nothing to merge")
	}
	for i, r := range runs {
		if r.Capacity() && len(runs) > 1 {
			return nil, fmt.Errorf("%s is a capacity run: its searches cannot be pooled like rounds; report it alone", names[i])
		}
	}
	first := runs[0]
	if first.Capacity() {
		return first, nil
	}
	out := &Run{
		Schema: RunSchema, Env: first.Env, Config: first.Config, Started: first.Started,
		Order: []string{}, Arms: slices.Clone(first.Arms), Rounds: []Round{},
	}
	out.Config.Rounds = 0
	seen := map[string]string{}
	for i, r := range runs {
		var recs []Record
		for _, rd := range r.Rounds {
			for _, a := range rd.Arms {
				recs = append(recs, a.Results...)
			}
		}
		if err := once(seen, names[i], r.Started, r.WallMs, recs); err != nil {
			return nil, err
		}
		switch {
		case r.Schema != RunSchema:
			return nil, fmt.Errorf("%s: schema %q, want %q", names[i], r.Schema, RunSchema)
		case r.Env.NumCPU != first.Env.NumCPU || r.Config.Image.SHA256 != first.Config.Image.SHA256 ||
			r.Config.N != first.Config.N || !sameArms(r, first):
			return nil, fmt.Errorf("%s and %s measured different setups (CPUs, image, -n or the arms' workers and policies): their rounds cannot be pooled", names[0], names[i])
		}
		for _, round := range r.Rounds {
			round.Round = len(out.Rounds) + 1
			round.Arms = slices.Clone(round.Arms)
			for k := range round.Arms {
				rs := &round.Arms[k]
				rs.Results = slices.Clone(rs.Results)
				for j := range rs.Results {
					rs.Results[j].Round = round.Round
					rs.Results[j].Source = names[i]
				}
			}
			out.Rounds = append(out.Rounds, round)
		}
		out.Config.Rounds += len(r.Rounds)
		out.Order = append(out.Order, r.Order...)
		out.WallMs += r.WallMs
		out.Interrupted = out.Interrupted || r.Interrupted
		out.Started = min(out.Started, r.Started)
	}
	out.Derive()
	return out, nil
}

// once refuses a file whose measurements were already given, under its
// own name or another (a copy): pooled twice, its requests would count
// twice and tighten every interval for nothing. A measurement is known
// by its start, its duration and its requests' send and end times.
func once(seen map[string]string, name, started string, wallMs float64, recs []Record) error {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s %v %d", started, wallMs, len(recs))
	for _, r := range recs {
		fmt.Fprintf(h, " %d:%v:%v:%d", r.Round, r.SentMs, r.EndMs, r.Status)
	}
	key := fmt.Sprintf("%x", h.Sum64())
	if prev, ok := seen[key]; ok {
		return fmt.Errorf("%s and %s hold the same measurements (started %s): merged, they would count twice", prev, name, started)
	}
	seen[key] = name
	return nil
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// sameArms reports whether a and b measured the same arms: names,
// modes, sizes and policies, in order.
func sameArms(a, b *Run) bool {
	return slices.EqualFunc(a.Arms, b.Arms, func(x, y Arm) bool { return x.ArmSpec == y.ArmSpec })
}
