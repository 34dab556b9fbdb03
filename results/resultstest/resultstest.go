// Package resultstest fabricates results for tests: runs whose figures
// are known, derived from requests like a real run's.
package resultstest

import "github.com/flipbench/flipbench/results"

// CapacityRun fabricates a capacity run of a standard arm and clusters
// of the sizes given, each arm's capacity in caps (standard first):
// steps 1, 2, 4... up to the capacity, a failure at the next doubling
// and just above, the capacity held again. A step passes or fails by its
// requests' latencies: 10 ms, or 5 s over the SLO.
func CapacityRun(sizes []int, caps []float64) *results.Run {
	r := &results.Run{Schema: results.RunSchema, Env: results.Env{NumCPU: 2}, Config: results.RunConfig{SLOs: []string{"p99<=1s", "errors<=1%"}, Resolution: 0.05, MinKeptUp: results.MinKeptUp}}
	r.Arms = append(r.Arms, results.Arm{ArmSpec: results.ArmSpec{Name: results.Standard, Mode: results.Standard, Workers: 1}})
	for _, n := range sizes {
		r.Arms = append(r.Arms, results.Arm{ArmSpec: results.ArmSpec{Name: results.ArmName(n, "", len(sizes) > 1, false), Mode: results.Cluster, Workers: n, Baseline: results.Standard}})
	}
	for i, a := range r.Arms {
		s := results.Search{Arm: a.Name}
		step := func(rate float64) {
			lat := 10.0
			if rate > caps[i] {
				lat = 5000
			}
			var recs []results.Record
			for j := range 20 {
				recs = append(recs, results.Record{Seq: uint64(j), Status: 200, LatencyMs: lat, SentMs: float64(j), EndMs: float64(j) + lat})
			}
			s.Steps = append(s.Steps, results.CapacityStep{Rate: rate, Results: recs})
		}
		rate := 1.0
		for ; rate <= caps[i]; rate *= 2 {
			step(rate)
		}
		step(rate)
		step(caps[i] * 1.05)
		step(caps[i])
		step(caps[i])
		r.Searches = append(r.Searches, s)
	}
	r.Derive()
	return r
}
