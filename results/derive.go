package results

import (
	"cmp"
	"math"
	"slices"
)

// Derive recomputes every derived figure from the requests: each round's
// stats and speedups, and each arm's summary, speedup, fairness and
// ideal. The run must be valid ([Run.Validate]).
func (r *Run) Derive() {
	for i := range r.Rounds {
		rd := &r.Rounds[i]
		for j := range rd.Arms {
			rd.Arms[j].Stats = Summarize(rd.Arms[j].Results)
			rd.Arms[j].Disturbed = rd.Arms[j].CPU.disturbed()
			rd.Arms[j].CPUPerRequestMs = rd.Arms[j].cpuPerRequest()
		}
		for j := range rd.Arms {
			s := &rd.Arms[j]
			s.Speedup = 0
			base := rd.Side(r.Arms[j].Baseline)
			// Failures only do not finish a burst: an arm whose every
			// request failed fast is not faster.
			if Scaled(r.Arms[j].Mode) && base != nil && base.OK > 0 && s.OK > 0 && base.LastMs > 0 && s.LastMs > 0 {
				s.Speedup = round3(base.LastMs / s.LastMs)
			}
		}
	}
	for j := range r.Arms {
		a := &r.Arms[j]
		rs := make([]RoundSummary, len(r.Rounds))
		var all []Record
		var jobs []float64
		for i := range r.Rounds {
			s := &r.Rounds[i].Arms[j]
			rs[i] = RoundSummary{Round: r.Rounds[i].Round, Stats: s.Stats}
			all = append(all, s.Results...)
			for _, rec := range s.Results {
				if rec.JobMs > 0 {
					jobs = append(jobs, rec.JobMs)
				}
			}
		}
		a.Stats = Combine(rs, all)
		// Per round: a cluster that gives one worker 7 of 10 in one round
		// and 3 in the next is even over the run, and late in each round.
		var jains []float64
		for i := range r.Rounds {
			if rpw := r.Rounds[i].Arms[j].RequestsPerWorker; len(rpw) > 0 {
				jains = append(jains, Jain(rpw, a.Workers))
			}
		}
		a.Jain = round3(Median(jains))
		a.JobMs, a.IdealLastMs, a.JobMsRefused = round3(Median(jobs)), 0, false
		if a.JobMs > 0 && !r.serviceTimes(j) {
			// Not a service time: a server whose X-Response-Time counts
			// the wait on its event loop (Koa's) would make an ideal no
			// cluster could reach.
			a.JobMs, a.JobMsRefused = 0, true
		}
		if a.JobMs > 0 && r.Config.N > 0 {
			a.IdealLastMs = round3(math.Ceil(float64(r.Config.N)/float64(a.Workers)) * a.JobMs)
		}
		a.CPUPerRequestMs, a.PeakRSSMB = r.costOf(j)
		a.Speedup = Speedup{}
		if !Scaled(a.Mode) {
			continue
		}
		sp := r.Speedups(a.Name)
		a.Speedup.Rounds = len(sp)
		if len(sp) > 0 {
			sorted := slices.Sorted(slices.Values(sp))
			a.Speedup.Median = round3(Percentile(sorted, 50))
			a.Speedup.Min, a.Speedup.Max = sorted[0], sorted[len(sorted)-1]
			baseWorkers := 1
			if b := r.Arm(a.Baseline); b != nil {
				baseWorkers = b.Workers
			}
			a.Speedup.Efficiency = round3(a.Speedup.Median * float64(baseWorkers) / float64(a.Workers))
		}
	}
	r.Scaling, r.CapacityScaling = nil, nil
	if r.Capacity() {
		r.deriveCapacity()
	} else {
		r.Scaling = r.curves()
	}
}

// cpuPerRequest is the burst's CPU time over the requests it sent, the
// cancelled ones left out; 0 without a cost or a request.
func (s *RoundSide) cpuPerRequest() float64 {
	n := s.Requests - s.Canceled
	if s.Cost == nil || n <= 0 {
		return 0
	}
	return round3(s.Cost.CPUMs / float64(n))
}

// costOf is the medians over the rounds of arm j's CPU time a request
// and peak memory, over the rounds that measured them.
func (r *Run) costOf(j int) (cpuPerRequest, peakMB float64) {
	var cpu, peak []float64
	for i := range r.Rounds {
		s := &r.Rounds[i].Arms[j]
		if s.Cost == nil {
			continue
		}
		if s.CPUPerRequestMs > 0 {
			cpu = append(cpu, s.CPUPerRequestMs)
		}
		if s.Cost.PeakRSSMB > 0 {
			peak = append(peak, s.Cost.PeakRSSMB)
		}
	}
	return round3(Median(cpu)), round3(Median(peak))
}

// serviceSlack is how far a round's reported job times may exceed what
// its servers' slots could have served in its wall time: clocks read at
// slightly different moments, not a server that reports waiting.
const serviceSlack = 1.1

// serviceTimes reports whether arm j's reported job times (X-Response-
// Time) can be service times: in every round, their sum is at most what
// the arm's slots could serve in the round's wall time (its last
// response). flipbench's own workers have Threads slots each (every CPU
// for 0); a server under test's workers are counted a slot each.
func (r *Run) serviceTimes(j int) bool {
	a := &r.Arms[j]
	slots := a.Workers
	if a.Command == "" {
		slots *= cmp.Or(r.Config.Threads, r.Env.NumCPU, 1)
	}
	for i := range r.Rounds {
		s := &r.Rounds[i].Arms[j]
		var sum float64
		for _, rec := range s.Results {
			sum += rec.JobMs
		}
		if sum > serviceSlack*float64(slots)*s.LastMs {
			return false
		}
	}
	return true
}

// jobMs is the median job time the server reported in the burst
// (X-Response-Time); 0 without one.
func (s *RoundSide) jobMs() float64 {
	var v []float64
	for _, rec := range s.Results {
		if rec.JobMs > 0 {
			v = append(v, rec.JobMs)
		}
	}
	return Median(v)
}
