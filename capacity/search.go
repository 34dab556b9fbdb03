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
	"time"

	"github.com/flipbench/flipbench/results"
)

// Measure holds a constant rate (requests a second) for d and returns
// the step: every request's record, and, where the caller measures
// them, the CPU the machine used and what it cost the server. It
// returns [ErrOutOfBudget] when a budget of its own leaves no time for
// the step.
type Measure func(ctx context.Context, rate float64, d time.Duration) (results.CapacityStep, error)

// ErrOutOfBudget stops a search whose budget is spent: the search
// returns what it found, marked [Result.OutOfBudget].
var ErrOutOfBudget = errors.New("out of budget")

// Step is one held rate and its verdict.
type Step = results.CapacityStep

// MaxStepRequests bounds the requests of one step, as the load
// generator bounds a round's: the highest rate a search tries is this
// over the hold (20,000/s for 5 s).
const MaxStepRequests = 100_000

// The default hold of a step and its fewest requests: a slow rate is
// held longer, so that a p99 has requests to stand on.
const (
	DefaultHold        = 5 * time.Second
	DefaultMinRequests = 50
)

// DefaultResolution is how close a search narrows the highest pass and
// the lowest failure: 5% of the failure.
const DefaultResolution = 0.05

// Config is a search.
type Config struct {
	// SLOs every step must meet; an error rate of 1% at most is always
	// one of them unless an SLO names another.
	SLOs []results.SLO
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
	// returns the highest rate that passed, marked unconfirmed.
	Budget time.Duration
	// MinKeptUp is the share of the offered rate a step must be answered
	// at (default results.MinKeptUp; -1: no such bound).
	MinKeptUp float64
	// Repeats is how many times a disturbed step (other processes took
	// more than results.DisturbedCores of a core) is held again; its
	// verdict stands after the last (default 2; -1: none).
	Repeats int
	// Measure runs a step.
	Measure Measure
	// OnStep, if set, is told of each step once it is judged.
	OnStep func(Step)
}

// Result is a search's outcome.
type Result struct {
	// Capacity is the highest rate that passed, and passed again when
	// held once more ([results.CapacityOf]); 0 if even Start failed at
	// its floor.
	Capacity float64 `json:"capacity"`
	Steps    []Step  `json:"steps"`
	// MinKeptUp is the share of each step's rate the server had to
	// answer at (Config.MinKeptUp).
	MinKeptUp float64 `json:"min_kept_up"`
	// OutOfBudget is set when the budget stopped the search before the
	// resolution was reached; Ceiling when MaxRate passed. Either leaves
	// Capacity unconfirmed: the highest rate that passed once.
	OutOfBudget bool `json:"out_of_budget,omitempty"`
	Ceiling     bool `json:"ceiling,omitempty"`
	// Unsettled is set when three confirmations failed (see
	// results.Search).
	Unsettled bool          `json:"unsettled,omitempty"`
	Took      time.Duration `json:"took_ns"`
}

func (c Config) withDefaults() Config {
	c.Start = cmp.Or(c.Start, 1)
	c.Factor = cmp.Or(c.Factor, 2)
	c.Resolution = cmp.Or(c.Resolution, DefaultResolution)
	c.MaxRate = cmp.Or(c.MaxRate, 100000)
	c.Hold = cmp.Or(c.Hold, DefaultHold)
	c.MinRequests = cmp.Or(c.MinRequests, DefaultMinRequests)
	c.Repeats = max(0, cmp.Or(c.Repeats, 2))
	c.MinKeptUp = max(0, cmp.Or(c.MinKeptUp, results.MinKeptUp))
	c.SLOs = results.WithErrorBound(c.SLOs)
	return c
}

// Search finds the capacity: geometric steps up from Start until one
// fails, bisection between the highest pass and the lowest failure
// until they are within Resolution, the highest pass held once more (a
// failure there narrows again below it).
func Search(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	s := &searcher{cfg: cfg, res: &Result{MinKeptUp: cfg.MinKeptUp}, start: time.Now()}
	err := s.run(ctx)
	s.res.Took = time.Since(s.start)
	if errors.Is(err, ErrOutOfBudget) {
		s.res.OutOfBudget, err = true, nil
	}
	s.res.Capacity = results.CapacityOf(s.res.Steps, s.res.OutOfBudget || s.res.Ceiling || s.res.Unsettled)
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
		s.res.Ceiling = err == nil // no failure up to MaxRate
		return err
	}
	// A confirmation that fails narrows again, below it; three that fail
	// say the capacity moves more than the resolution, and more holds
	// would chase it down, so the search stops there, unsettled.
	for range 3 {
		if lo, hi, err = s.bisect(ctx, lo, hi); err != nil || lo == 0 {
			return err // nothing passed, down to Start over Factor cubed
		}
		ok, err := s.step(ctx, lo)
		if err != nil || ok {
			return err
		}
		hi, lo = lo, s.lastPassBelow(lo)
	}
	s.res.Unsettled = true
	return nil
}

// climb raises the rate geometrically from Start until a step fails:
// the highest pass and the lowest failure (+Inf at MaxRate).
func (s *searcher) climb(ctx context.Context) (lo, hi float64, err error) {
	hi = math.Inf(1)
	top := min(s.cfg.MaxRate, MaxStepRequests/s.cfg.Hold.Seconds())
	for rate := s.cfg.Start; rate <= top; rate *= s.cfg.Factor {
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
		if st.Passed && !st.Repeated && st.Rate < r {
			best = max(best, st.Rate)
		}
	}
	return best
}

// StepBound is the time a budget keeps for a step held for hold: the
// hold, and as long again for the queue of an overloaded step to drain
// (the search's first failure is at most Factor times its capacity, so
// its queue takes at most about as long as the hold).
func StepBound(hold time.Duration) time.Duration { return 2 * hold }

// measure holds rate for hold through cfg.Measure. The budget holds to
// the end of a step too, whose queue may drain for as long as the
// requests' timeout: a step it cuts short is dropped, as out of budget.
func (s *searcher) measure(ctx context.Context, rate float64, hold time.Duration) (results.CapacityStep, error) {
	if s.cfg.Budget <= 0 {
		return s.cfg.Measure(ctx, rate, hold)
	}
	mctx, cancel := context.WithDeadline(ctx, s.start.Add(s.cfg.Budget))
	defer cancel()
	st, err := s.cfg.Measure(mctx, rate, hold)
	if ctx.Err() == nil && mctx.Err() != nil {
		// Cut at the budget, whatever Measure made of it: a step whose
		// slowest requests were cancelled must not be judged.
		return results.CapacityStep{}, ErrOutOfBudget
	}
	return st, err
}

// step holds rate and judges it against the SLOs; a disturbed step is
// held again, up to Repeats times.
func (s *searcher) step(ctx context.Context, rate float64) (bool, error) {
	hold := max(s.cfg.Hold, time.Duration(float64(s.cfg.MinRequests)/rate*float64(time.Second)))
	for try := 0; ; try++ {
		if s.cfg.Budget > 0 && time.Since(s.start)+StepBound(hold) > s.cfg.Budget {
			return false, ErrOutOfBudget
		}
		st, err := s.measure(ctx, rate, hold)
		if errors.Is(err, ErrOutOfBudget) {
			return false, err
		}
		if err != nil {
			return false, fmt.Errorf("step at %.1f/s: %w", rate, err)
		}
		st.Rate, st.HoldMs = rate, results.Ms(hold)
		st.Judge(s.cfg.SLOs, s.cfg.MinKeptUp)
		st.Repeated = st.Disturbed && try < s.cfg.Repeats && ctx.Err() == nil
		s.res.Steps = append(s.res.Steps, st)
		if s.cfg.OnStep != nil {
			s.cfg.OnStep(st)
		}
		if !st.Repeated {
			return st.Passed, nil
		}
	}
}
