// Package capacity finds how many requests a second a server takes while
// it meets a latency and error SLO: open-loop constant-rate steps, raised
// geometrically until one fails, then narrowed by bisection, the highest
// passing rate confirmed by holding it once more.
//
// It imports nothing of flipbench's but results; the steps' load comes
// from a [Measure] function (loadgen's constant rate in the CLI).
package capacity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flipbench/flipbench/results"
)

// SLO is one objective a step must meet: a latency percentile at most
// MaxMs ("p99<=2s"), or, with P 0, an error rate at most MaxErrorRate.
type SLO struct {
	P, MaxMs     float64
	MaxErrorRate float64
}

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

// Measure holds a constant rate (requests a second) for d and returns
// every request's record.
type Measure func(ctx context.Context, rate float64, d time.Duration) ([]results.Record, error)

// Config is a search.
type Config struct {
	// SLOs every step must meet; an error rate of 1% at most is always
	// one of them unless an SLO names another.
	SLOs []SLO
	// Start is the first rate (default 1/s); Factor what each passing
	// step multiplies it by until one fails (default 2); Resolution the
	// relative width the bisection narrows to (default 0.05); MaxRate
	// the highest rate tried (default 100000/s).
	Start, Factor, Resolution, MaxRate float64
	// Hold is how long a step lasts at least (default 5 s); MinRequests
	// the fewest requests it sends (default 50): a slow rate is held
	// longer.
	Hold        time.Duration
	MinRequests int
	// Budget bounds the search's time (0: none); a search out of budget
	// returns the best rate it confirmed, marked.
	Budget time.Duration
	// Measure runs a step.
	Measure Measure
}

// Step is one held rate and its verdict.
type Step struct {
	Rate   float64 `json:"rate"`
	Passed bool    `json:"passed"`
	// Why names the SLO it failed ("p99 2.41s > 2s").
	Why string `json:"why,omitempty"`
	// Ms are the latency SLOs' percentiles, in their order (-1: no
	// request was answered); ErrorRate the share of failed requests.
	Ms        []float64 `json:"ms"`
	ErrorRate float64   `json:"error_rate"`
	Requests  int       `json:"requests"`
}

// Result is a search's outcome.
type Result struct {
	// Capacity is the highest rate that passed, and passed again when
	// held once more; 0 if even Start failed at its floor.
	Capacity float64 `json:"capacity"`
	Steps    []Step  `json:"steps"`
	// OutOfBudget is set when the budget stopped the search before the
	// resolution was reached.
	OutOfBudget bool          `json:"out_of_budget,omitempty"`
	Took        time.Duration `json:"took_ns"`
}

func (c Config) withDefaults() Config {
	c.Start = cmp.Or(c.Start, 1)
	c.Factor = cmp.Or(c.Factor, 2)
	c.Resolution = cmp.Or(c.Resolution, 0.05)
	c.MaxRate = cmp.Or(c.MaxRate, 100000)
	c.Hold = cmp.Or(c.Hold, 5*time.Second)
	c.MinRequests = cmp.Or(c.MinRequests, 50)
	if !slices.ContainsFunc(c.SLOs, func(s SLO) bool { return s.P == 0 }) {
		c.SLOs = append(slices.Clone(c.SLOs), SLO{MaxErrorRate: 0.01})
	}
	return c
}

// errBudget stops a search whose budget is spent.
var errBudget = errors.New("out of budget")

// Search finds the capacity: geometric steps up from Start until one
// fails, bisection between the highest pass and the lowest failure
// until they are within Resolution, the highest pass held once more (a
// failure there narrows again below it).
func Search(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	s := &searcher{cfg: cfg, res: &Result{}, start: time.Now()}
	err := s.run(ctx)
	s.res.Took = time.Since(s.start)
	if errors.Is(err, errBudget) {
		s.res.OutOfBudget, err = true, nil
	}
	return s.res, err
}

type searcher struct {
	cfg   Config
	res   *Result
	start time.Time
}

func (s *searcher) run(ctx context.Context) error {
	lo, hi, err := s.climb(ctx)
	if err != nil || math.IsInf(hi, 1) {
		s.res.Capacity = lo // no failure up to MaxRate
		return err
	}
	for range 3 { // a confirmation that fails narrows again, below it
		if lo, hi, err = s.bisect(ctx, lo, hi); err != nil || lo == 0 {
			return err // nothing passed, down to Start over Factor cubed
		}
		ok, err := s.step(ctx, lo)
		if err != nil {
			return err
		}
		if ok {
			s.res.Capacity = lo
			return nil
		}
		hi, lo = lo, s.lastPassBelow(lo)
	}
	return nil
}

// climb raises the rate geometrically from Start until a step fails:
// the highest pass and the lowest failure (+Inf at MaxRate).
func (s *searcher) climb(ctx context.Context) (lo, hi float64, err error) {
	hi = math.Inf(1)
	for rate := s.cfg.Start; rate <= s.cfg.MaxRate; rate *= s.cfg.Factor {
		ok, err := s.step(ctx, rate)
		if err != nil || !ok {
			return lo, rate, err
		}
		lo = rate
	}
	return lo, hi, nil
}

// bisect narrows [lo, hi] to Resolution; with no pass yet it steps down
// geometrically, and gives up (lo 0) below Start over Factor cubed.
func (s *searcher) bisect(ctx context.Context, lo, hi float64) (float64, float64, error) {
	floor := s.cfg.Start / math.Pow(s.cfg.Factor, 3)
	for lo == 0 || (hi-lo)/hi > s.cfg.Resolution {
		mid := (lo + hi) / 2
		if lo == 0 {
			if mid = hi / s.cfg.Factor; mid < floor {
				return 0, hi, nil
			}
		}
		ok, err := s.step(ctx, mid)
		if err != nil {
			return lo, hi, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, hi, nil
}

// lastPassBelow is the highest rate below r that passed, or 0.
func (s *searcher) lastPassBelow(r float64) float64 {
	best := 0.0
	for _, st := range s.res.Steps {
		if st.Passed && st.Rate < r {
			best = max(best, st.Rate)
		}
	}
	return best
}

// step holds rate and judges it against the SLOs.
func (s *searcher) step(ctx context.Context, rate float64) (bool, error) {
	hold := max(s.cfg.Hold, time.Duration(float64(s.cfg.MinRequests)/rate*float64(time.Second)))
	if s.cfg.Budget > 0 && time.Since(s.start)+hold > s.cfg.Budget {
		return false, errBudget
	}
	recs, err := s.cfg.Measure(ctx, rate, hold)
	if err != nil {
		return false, fmt.Errorf("step at %.1f/s: %w", rate, err)
	}
	st := judge(rate, recs, s.cfg.SLOs)
	s.res.Steps = append(s.res.Steps, st)
	return st.Passed, nil
}

// judge is a step's verdict: every SLO met by its requests.
func judge(rate float64, recs []results.Record, slos []SLO) Step {
	st := Step{Rate: rate, Requests: len(recs), Passed: true}
	var lat []float64
	failed := 0
	for _, r := range recs {
		if r.Canceled() {
			continue
		}
		if r.Status < 200 || r.Status > 299 {
			failed++
			continue
		}
		lat = append(lat, r.LatencyMs)
	}
	slices.Sort(lat)
	if len(recs) > 0 {
		st.ErrorRate = float64(failed) / float64(len(recs))
	}
	for _, slo := range slos {
		if slo.P == 0 {
			if st.ErrorRate > slo.MaxErrorRate && st.Passed {
				st.Passed, st.Why = false, fmt.Sprintf("errors %.1f%% > %g%%", 100*st.ErrorRate, 100*slo.MaxErrorRate)
			}
			continue
		}
		if len(lat) == 0 {
			st.Ms = append(st.Ms, -1)
			if st.Passed {
				st.Passed, st.Why = false, "no request answered"
			}
			continue
		}
		ms := results.Percentile(lat, slo.P)
		st.Ms = append(st.Ms, ms)
		if ms > slo.MaxMs && st.Passed {
			st.Passed, st.Why = false, fmt.Sprintf("p%g %s > %s", slo.P, msDuration(ms), msDuration(slo.MaxMs))
		}
	}
	return st
}

// msDuration prints milliseconds as a duration to a tenth of one.
func msDuration(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond)).Round(100 * time.Microsecond)
}
