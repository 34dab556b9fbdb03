package results

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SLO is one objective a step of a capacity search must meet: a latency
// percentile at most MaxMs ("p99<=2s"), or, with P 0, an error rate at
// most MaxErrorRate ("errors<=1%").
type SLO struct {
	P, MaxMs     float64
	MaxErrorRate float64
}

// DefaultErrorSLO bounds the error rate of a search whose SLOs name none:
// a rate at which the server fails requests is not one it takes.
var DefaultErrorSLO = SLO{MaxErrorRate: 0.01}

func (s SLO) String() string {
	if s.P == 0 {
		return fmt.Sprintf("errors<=%g%%", 100*s.MaxErrorRate)
	}
	return fmt.Sprintf("p%g<=%s", s.P, msDuration(s.MaxMs))
}

// ParseSLO reads "p99<=2s", "p50<=500ms" or "errors<=1%".
func ParseSLO(s string) (SLO, error) {
	name, limit, ok := strings.Cut(strings.ReplaceAll(s, " ", ""), "<=")
	if !ok {
		return SLO{}, fmt.Errorf("SLO %q: want pNN<=DURATION or errors<=PCT%%", s)
	}
	if name == "errors" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(limit, "%"), 64)
		if err != nil || !strings.HasSuffix(limit, "%") || v < 0 || v >= 100 {
			return SLO{}, fmt.Errorf("SLO %q: want an error rate like errors<=1%%", s)
		}
		return SLO{MaxErrorRate: v / 100}, nil
	}
	p, err := strconv.ParseFloat(strings.TrimPrefix(name, "p"), 64)
	d, derr := time.ParseDuration(limit)
	if !strings.HasPrefix(name, "p") || err != nil || p <= 0 || p >= 100 || derr != nil || d <= 0 {
		return SLO{}, fmt.Errorf("SLO %q: want a percentile and a duration like p99<=2s", s)
	}
	return SLO{P: p, MaxMs: float64(d) / float64(time.Millisecond)}, nil
}

// ParseSLOs reads each SLO and adds [DefaultErrorSLO] when none bounds
// the error rate.
func ParseSLOs(names []string) ([]SLO, error) {
	var out []SLO
	for _, n := range names {
		s, err := ParseSLO(n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return WithErrorBound(out), nil
}

// WithErrorBound is slos with [DefaultErrorSLO] added when none bounds
// the error rate.
func WithErrorBound(slos []SLO) []SLO {
	if slices.ContainsFunc(slos, func(s SLO) bool { return s.P == 0 }) {
		return slos
	}
	return append(slices.Clone(slos), DefaultErrorSLO)
}

// SLONames writes SLOs as ParseSLO reads them.
func SLONames(slos []SLO) []string {
	var out []string
	for _, s := range slos {
		out = append(out, s.String())
	}
	return out
}

// LatencySLO is the first latency SLO of slos (the one a report plots
// and tabulates first); ok false when there is none.
func LatencySLO(slos []SLO) (SLO, bool) {
	i := slices.IndexFunc(slos, func(s SLO) bool { return s.P > 0 })
	if i < 0 {
		return SLO{}, false
	}
	return slos[i], true
}

// CapacityStep is one rate held at an arm during a capacity search: its
// requests as they were measured, and its verdict, derived from them.
type CapacityStep struct {
	// Rate is the offered rate, requests a second; HoldMs how long it was
	// held.
	Rate   float64 `json:"rate"`
	HoldMs float64 `json:"hold_ms"`
	// Results is every request of the step.
	Results []Record `json:"requests"`
	// CPU and Cost are what the step used of the machine and cost the
	// arm's server, where the bench could measure them; nil otherwise.
	CPU  *CPUUse `json:"cpu,omitempty"`
	Cost *Cost   `json:"cost,omitempty"`
	// Repeated marks a disturbed step that was held again: its verdict
	// does not count.
	Repeated bool `json:"repeated,omitempty"`

	// The verdict, derived from Results ([CapacityStep.Judge]): Passed
	// when every SLO was met, Why names the first missed ("p99 2.41s >
	// 2s"); Ms are the latency SLOs' percentiles in their order (-1: no
	// request answered), P50Ms the median latency, ErrorRate the share
	// of failed requests, AchievedRate the responses a second over the
	// step's wall time.
	Passed       bool      `json:"passed"`
	Why          string    `json:"why,omitempty"`
	Ms           []float64 `json:"ms"`
	P50Ms        float64   `json:"p50_ms"`
	ErrorRate    float64   `json:"error_rate"`
	Requests     int       `json:"requests_sent"`
	AchievedRate float64   `json:"achieved_rate"`
	// ServedRate is the rate at which the server answered the step's
	// successful requests, KeptUp that over the rate they were sent at:
	// the slopes of their ends and of their sends against their order,
	// by least squares (see [CapacityStep.Judge]). 0 with fewer than
	// three successes.
	ServedRate float64 `json:"served_rate"`
	KeptUp     float64 `json:"kept_up"`
	// Disturbed is set when other processes took more than
	// [DisturbedCores] of a core during the step (derived from CPU).
	Disturbed bool `json:"disturbed,omitempty"`
}

// MinKeptUp is the least share of the offered rate a server must answer
// at for a step to pass, whatever its latencies. A step shorter than
// its SLO's latency bound cannot show an overload by its latencies: 47%
// too many requests a second held for 5 s build a queue of 2.4 s,
// inside an SLO of p99<=3s. The rate the answers come at shows it at
// once: an overloaded server answers at its own pace, not the load's.
// Steps of 50 requests or more that kept up measured 0.989 to 1.006 of
// their rate on 2 CPUs, overloaded ones 0.43 to 0.957 (a worker offered
// 8.25/s where it serves 7.9/s); 3% admits the noise of the first. A
// run file keeps the bar its steps were judged by (RunConfig.MinKeptUp).
const MinKeptUp = 0.97

// Judge derives the step's verdict from its requests: every SLO met,
// and the server answering at minKeptUp of the offered rate at least
// (0: no such bound). Cancelled requests (an interruption's) are left
// out.
func (st *CapacityStep) Judge(slos []SLO, minKeptUp float64) {
	var lat []float64
	failed, sent := 0, 0
	for _, r := range st.Results {
		if r.Canceled() {
			continue
		}
		sent++
		if !r.OK() {
			failed++
			continue
		}
		lat = append(lat, r.LatencyMs)
	}
	slices.Sort(lat)
	st.Requests, st.Passed, st.Why, st.Ms, st.ErrorRate, st.P50Ms = sent, true, "", nil, 0, 0
	st.Disturbed = st.CPU.disturbed()
	if sent > 0 {
		st.ErrorRate = round3(float64(failed) / float64(sent))
	}
	if len(lat) > 0 {
		st.P50Ms = round3(Percentile(lat, 50))
	}
	st.AchievedRate = 0
	if s := Summarize(st.Results); s.ThroughputRPS > 0 {
		st.AchievedRate = s.ThroughputRPS
	}
	for _, slo := range slos {
		st.judge(slo, lat)
	}
	served, keptUp := servedRate(st.Results)
	st.ServedRate, st.KeptUp = round3(served), round3(keptUp)
	if keptUp > 0 && keptUp < minKeptUp && st.Passed {
		// Truncated, not rounded: 96.98% is not "97.0% < 97%".
		pct := math.Floor(1000*keptUp) / 10
		st.Passed, st.Why = false, fmt.Sprintf("served %.3g/s, %.1f%% of the rate < %g%%", served, pct, 100*minKeptUp)
	}
}

// servedRate is the rate at which recs' successes were answered, and
// that over the rate they were sent at: the least-squares slopes of
// their ends and of their sends against their order of sending. A
// server that keeps up answers at the load's pace, its latencies' noise
// averaged out over the step; an overloaded one at its own. 0, 0 with
// fewer than three successes.
func servedRate(recs []Record) (served, keptUp float64) {
	ok := slices.DeleteFunc(slices.Clone(recs), func(r Record) bool { return !r.OK() })
	if len(ok) < 3 {
		return 0, 0
	}
	slices.SortFunc(ok, func(a, b Record) int { return cmp.Compare(a.SentMs, b.SentMs) })
	sendSlope := slope(ok, func(r Record) float64 { return r.SentMs })
	endSlope := slope(ok, func(r Record) float64 { return r.EndMs })
	if sendSlope <= 0 || endSlope <= 0 {
		return 0, 0 // sent or answered all at once: no rate to compare
	}
	return 1000 / endSlope, sendSlope / endSlope
}

// slope is the least-squares slope of of(recs[i]) against i.
func slope(recs []Record, of func(Record) float64) float64 {
	n := float64(len(recs))
	mx, my := (n-1)/2, 0.0
	for _, r := range recs {
		my += of(r)
	}
	my /= n
	var sxy, sxx float64
	for i, r := range recs {
		dx := float64(i) - mx
		sxy += dx * (of(r) - my)
		sxx += dx * dx
	}
	return sxy / sxx
}

// judge checks one SLO; the first missed is the step's Why.
func (st *CapacityStep) judge(slo SLO, lat []float64) {
	fail := func(why string) {
		if st.Passed {
			st.Passed, st.Why = false, why
		}
	}
	if slo.P == 0 {
		if st.ErrorRate > slo.MaxErrorRate {
			fail(fmt.Sprintf("errors %.1f%% > %g%%", 100*st.ErrorRate, 100*slo.MaxErrorRate))
		}
		return
	}
	if len(lat) == 0 {
		st.Ms = append(st.Ms, -1)
		fail("no request answered")
		return
	}
	ms := round3(Percentile(lat, slo.P))
	st.Ms = append(st.Ms, ms)
	if ms > slo.MaxMs {
		fail(fmt.Sprintf("p%g %s > %s", slo.P, msDuration(ms), msDuration(slo.MaxMs)))
	}
}

// CapacityOf is the capacity a search's steps show: the highest rate
// every counted hold of which passed, held at least twice (the pass
// confirmed). With unconfirmed (a search the budget or the highest rate
// stopped), a rate that passed once counts too. 0 when none did.
// Repeated (disturbed, held again) steps do not count.
func CapacityOf(steps []CapacityStep, unconfirmed bool) float64 {
	held, failed := map[float64]int{}, map[float64]bool{}
	for _, st := range steps {
		if st.Repeated {
			continue
		}
		held[st.Rate]++
		if !st.Passed {
			failed[st.Rate] = true
		}
	}
	best := 0.0
	for rate, n := range held {
		if !failed[rate] && (n >= 2 || unconfirmed) {
			best = max(best, rate)
		}
	}
	return best
}

// Search is a capacity search of one arm, as a run file keeps it.
type Search struct {
	// Arm names the arm searched.
	Arm string `json:"arm"`
	// Steps are the rates held, in the order they ran.
	Steps []CapacityStep `json:"steps"`
	// OutOfBudget is set when the bench's time budget stopped the search
	// before its resolution; Ceiling when the highest rate it may try
	// passed. Either leaves the capacity unconfirmed.
	OutOfBudget bool `json:"out_of_budget,omitempty"`
	Ceiling     bool `json:"ceiling,omitempty"`
	// Unsettled is set when the highest pass failed when held again, and
	// again below, three times: the server's capacity moved more than the
	// resolution. It leaves the capacity unconfirmed too.
	Unsettled bool `json:"unsettled,omitempty"`
	// TookMs is how long the search took, turns of other arms included.
	TookMs float64 `json:"took_ms"`
}

// unconfirmed reports whether the search stopped before it confirmed a
// capacity.
func (s *Search) unconfirmed() bool { return s.OutOfBudget || s.Ceiling || s.Unsettled }

// StepsMs is how long the search's own steps took, other arms' turns
// left out: each step from its first send to its last answer.
func (s *Search) StepsMs() float64 {
	total := 0.0
	for _, st := range s.Steps {
		end := 0.0
		for _, r := range st.Results {
			end = max(end, r.EndMs)
		}
		total += end
	}
	return round3(total)
}

// ArmCapacity is an arm's capacity and what it cost, derived from its
// search.
type ArmCapacity struct {
	// Rate is the capacity, requests a second; 0 when no rate met the
	// SLOs.
	Rate float64 `json:"rate"`
	// Speedup is Rate over the baseline's, Efficiency that per worker of
	// the baseline's; 0 for a standard arm or without both capacities.
	Speedup    float64 `json:"speedup,omitempty"`
	Efficiency float64 `json:"efficiency,omitempty"`
	// At capacity (the last counted step held at Rate): the median and
	// the SLOs' latencies, the cores the server's process tree used (its
	// CPU time over the step's wall time; 0 where unmeasured) and its CPU
	// time a request.
	P50Ms           float64   `json:"p50_ms"`
	Ms              []float64 `json:"ms"`
	ServerCores     float64   `json:"server_cores,omitempty"`
	CPUPerRequestMs float64   `json:"cpu_per_request_ms,omitempty"`
	// Unconfirmed is set when the budget or the highest rate stopped the
	// search; Steps counts its steps.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	Steps       int  `json:"steps"`
}

// CapacityRate is the arm's capacity, 0 when it has none (no rate met
// the SLOs, or the run is not a capacity run).
func (a *Arm) CapacityRate() float64 {
	if a == nil || a.Capacity == nil {
		return 0
	}
	return a.Capacity.Rate
}

// Capacity reports whether the run is a capacity search (bench
// --capacity) rather than rounds of bursts.
func (r *Run) Capacity() bool { return len(r.Config.SLOs) > 0 }

// SearchOf returns the search of the arm called name, nil if none.
func (r *Run) SearchOf(name string) *Search {
	i := slices.IndexFunc(r.Searches, func(s Search) bool { return s.Arm == name })
	if i < 0 {
		return nil
	}
	return &r.Searches[i]
}

// deriveCapacity judges every step against the run's SLOs and derives
// each arm's capacity, its speedup over its baseline's, and the
// capacity scaling curves.
func (r *Run) deriveCapacity() {
	slos, err := ParseSLOs(r.Config.SLOs)
	if err != nil || !r.Capacity() {
		return // Validate refuses such a run
	}
	for i := range r.Searches {
		for j := range r.Searches[i].Steps {
			r.Searches[i].Steps[j].Judge(slos, r.Config.MinKeptUp)
		}
	}
	for j := range r.Arms {
		a := &r.Arms[j]
		a.Capacity = nil
		if s := r.SearchOf(a.Name); s != nil {
			c := s.figures()
			a.Capacity = &c
		}
	}
	for j := range r.Arms {
		a := &r.Arms[j]
		base := r.Arm(a.Baseline)
		if !Scaled(a.Mode) || a.Capacity == nil || base == nil || base.Capacity == nil || base.Capacity.Rate <= 0 {
			continue
		}
		a.Capacity.Speedup = round3(a.Capacity.Rate / base.Capacity.Rate)
		a.Capacity.Efficiency = round3(a.Capacity.Speedup * float64(base.Workers) / float64(a.Workers))
	}
	r.CapacityScaling = r.capacityCurves()
}

// figures are the search's capacity and what was measured at it.
func (s *Search) figures() ArmCapacity {
	c := ArmCapacity{Rate: CapacityOf(s.Steps, s.unconfirmed()), Unconfirmed: s.unconfirmed(), Steps: len(s.Steps)}
	for i := len(s.Steps) - 1; i >= 0 && c.Rate > 0; i-- {
		st := s.Steps[i]
		if st.Rate != c.Rate || st.Repeated {
			continue
		}
		c.P50Ms, c.Ms = st.P50Ms, st.Ms
		if st.Cost != nil && st.CPU != nil && st.CPU.WallMs > 0 {
			c.ServerCores = round3(st.Cost.CPUMs / st.CPU.WallMs)
		}
		if st.Cost != nil && st.Requests > 0 {
			c.CPUPerRequestMs = round3(st.Cost.CPUMs / float64(st.Requests))
		}
		break
	}
	return c
}

// capacityCurves are the capacity speedups by cluster size, one curve
// per build and policy of two sizes or more, with the Universal
// Scalability Law fitted to them: a law about throughput, which a
// capacity is.
func (r *Run) capacityCurves() []Curve {
	return r.fitCurves(func(a *Arm) float64 {
		if a.Capacity == nil || a.Capacity.Speedup <= 0 {
			return math.NaN() // no capacity: no point
		}
		return a.Capacity.Speedup
	})
}

// msDuration prints milliseconds as a duration to three figures or a
// tenth of a millisecond: 6.55s, 564ms, 18.2ms.
func msDuration(ms float64) time.Duration {
	if math.IsInf(ms, 0) || math.IsNaN(ms) {
		return 0
	}
	d, unit := time.Duration(ms*float64(time.Millisecond)), 100*time.Microsecond
	for limit := 100 * time.Millisecond; d >= limit && unit < time.Second; limit *= 10 {
		unit *= 10
	}
	return d.Round(unit)
}
