package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flipbench/flipbench/capacity"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// CapacityConfig is a capacity bench: the highest rate each arm takes
// while it meets the SLOs, searched for every arm of the same servers a
// bench of bursts would measure.
type CapacityConfig struct {
	// Config gives the servers, the request timeout, the loader, the
	// build, the progress reports and the warm-up before the first step
	// (its Measurement's, by default one request a worker); its Rounds
	// do not apply.
	Config
	// Search is each arm's search: its SLOs (at least one), first rate,
	// steps and resolution. Its Budget bounds the whole bench, every
	// arm's search together, from the first server's start; its Measure
	// and OnStep are the bench's.
	Search capacity.Config
	// OnStep, if set, is told of each arm's steps as they are judged.
	OnStep func(arm string, st results.CapacityStep)
}

// Capacity searches every arm's capacity and returns the run, whose
// Searches hold every step and its requests. The arms take turns, one
// step each, in their order and then in reverse (ABBA, as a bench's
// rounds), so that a drift of the machine weighs on every arm alike;
// each arm is warmed up before its first step, and a step other
// processes disturbed is held again. Servers that share an address
// (Sequential) start, warm up and stop around each step.
//
// When ctx is cancelled it stops and returns the steps held, with
// Interrupted set and no error. A search out of budget is marked in its
// Search and its capacity left unconfirmed.
func Capacity(ctx context.Context, cfg CapacityConfig) (*results.Run, error) {
	if err := cfg.Config.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Search.SLOs) == 0 {
		return nil, errors.New("capacity: no SLO to search at")
	}
	run, arms, names, err := newRun(cfg.Config, capacityConfig(cfg.Search))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	b := &bencher{cfg: cfg.Config, arms: arms, running: map[string]Server{}, measured: map[Step]results.RoundSide{}}
	defer b.stopAll()
	s := &searches{b: b, cfg: cfg, turns: newTurns(names)}
	if cfg.Search.Budget > 0 {
		s.deadline = start.Add(cfg.Search.Budget)
	}
	err = s.run(ctx, names)
	run.Searches, run.Order = s.done, s.order
	return finish(ctx, run, start, err)
}

// capacityConfig is what a run file keeps of a search's settings: what
// its steps' verdicts depend on, and the budget.
func capacityConfig(c capacity.Config) results.RunConfig {
	return results.RunConfig{
		SLOs:        results.SLONames(results.WithErrorBound(c.SLOs)),
		Resolution:  cmp.Or(c.Resolution, capacity.DefaultResolution),
		BudgetMs:    results.Ms(c.Budget),
		HoldMs:      results.Ms(cmp.Or(c.Hold, capacity.DefaultHold)),
		MinRequests: cmp.Or(c.MinRequests, capacity.DefaultMinRequests),
		MinKeptUp:   max(0, cmp.Or(c.MinKeptUp, results.MinKeptUp)),
	}
}

// searches carries out the arms' searches, one step at a time.
type searches struct {
	b        *bencher
	cfg      CapacityConfig
	turns    *turns
	deadline time.Time // zero: no budget

	mu    sync.Mutex
	done  []results.Search // in the arms' order
	order []string         // the arm of each step, in the order they ran
}

// run starts (side by side) and warms up every arm's server, then runs
// each arm's search in a goroutine of its own, taking turns; the first
// error stops them all.
func (s *searches) run(ctx context.Context, names []string) error {
	if !s.b.cfg.Servers.Sequential() {
		for _, arm := range names {
			if err := s.b.start(ctx, arm); err != nil {
				return err
			}
		}
		for _, arm := range names {
			if err := s.b.cfg.measurement().WarmUp(ctx, s.b.target(arm, "warm-up "+arm)); err != nil {
				return err
			}
		}
	}
	s.done = make([]results.Search, len(names))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, arm := range names {
		wg.Go(func() {
			defer s.turns.finish(arm)
			res, err := capacity.Search(ctx, s.searchConfig(arm))
			if err != nil && !errors.Is(err, context.Canceled) {
				cancel(fmt.Errorf("%s: %w", arm, err))
			}
			if res != nil {
				s.mu.Lock()
				s.done[i] = results.Search{Arm: arm, Steps: res.Steps, OutOfBudget: res.OutOfBudget, Ceiling: res.Ceiling,
					Unsettled: res.Unsettled, TookMs: results.Ms(res.Took)}
				s.mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// searchConfig is arm's search: the bench's, without a budget of its
// own (the bench's deadline bounds every step), stepping through arm's
// turns.
func (s *searches) searchConfig(arm string) capacity.Config {
	c := s.cfg.Search
	c.Budget = 0
	c.Measure = func(ctx context.Context, rate float64, d time.Duration) (results.CapacityStep, error) {
		if err := s.turns.wait(ctx, arm); err != nil {
			return results.CapacityStep{}, err
		}
		defer s.turns.pass(arm)
		if !s.deadline.IsZero() && time.Now().Add(capacity.StepBound(d)).After(s.deadline) {
			return results.CapacityStep{}, capacity.ErrOutOfBudget
		}
		// The budget is kept to the end of a step too: an overloaded
		// step's queue may drain for as long as the requests' timeout.
		// A step the budget cuts short is dropped, not judged.
		sctx, cancel := s.withBudget(ctx)
		defer cancel()
		st, err := s.step(sctx, arm, rate, d)
		if err != nil && ctx.Err() == nil && sctx.Err() != nil {
			return results.CapacityStep{}, capacity.ErrOutOfBudget
		}
		if err == nil {
			s.mu.Lock()
			s.order = append(s.order, arm)
			s.mu.Unlock()
		}
		return st, err
	}
	if s.cfg.OnStep != nil {
		c.OnStep = func(st results.CapacityStep) { s.cfg.OnStep(arm, st) }
	}
	return c
}

// withBudget is ctx, ended at the bench's deadline if it has one.
func (s *searches) withBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, s.deadline)
}

// step holds rate at arm for d: the load open loop, and the CPU the
// machine used and what the step cost the arm's server. Servers that
// share an address start and warm up for the step, and stop after it.
func (s *searches) step(ctx context.Context, arm string, rate float64, d time.Duration) (results.CapacityStep, error) {
	b := s.b
	if b.cfg.Servers.Sequential() {
		if err := b.start(ctx, arm); err != nil {
			return results.CapacityStep{}, err
		}
		defer b.stop(arm)
		if err := b.cfg.measurement().WarmUp(ctx, b.target(arm, "warm-up "+arm)); err != nil {
			return results.CapacityStep{}, err
		}
	}
	cpu, cost := takeCPU(), startCost(b.running[arm].PID())
	sum, err := b.target(arm, fmt.Sprintf("%s %.1f/s", arm, rate)).Load(ctx, loadgen.Config{Rate: loadgen.RateOf(rate), Duration: d, Timeout: b.cfg.Timeout})
	spent := cost.stop()
	if err != nil {
		return results.CapacityStep{}, err
	}
	if sum.Interrupted {
		return results.CapacityStep{}, context.Canceled
	}
	if len(sum.Incomplete) > 0 {
		return results.CapacityStep{}, fmt.Errorf("%w: %s", ErrIncomplete, strings.Join(sum.Incomplete, "; "))
	}
	return results.CapacityStep{Results: sum.Results, CPU: cpu.since(), Cost: spent}, nil
}

// turns has the arms' searches take one step each in turn: the arms in
// their order, then in reverse, and so on, skipping the arms whose
// search has ended.
type turns struct {
	mu     sync.Mutex
	arms   []string
	order  []string // this pass's
	pos    int      // whose turn: order[pos]
	passes int
	ended  map[string]bool
	moved  chan struct{} // closed, and replaced, when the turn moves
}

func newTurns(arms []string) *turns {
	return &turns{arms: arms, order: arms, ended: map[string]bool{}, moved: make(chan struct{})}
}

// current is whose turn it is, "" once every search has ended.
func (t *turns) current() string {
	for len(t.ended) < len(t.arms) {
		for t.pos < len(t.order) && t.ended[t.order[t.pos]] {
			t.pos++
		}
		if t.pos < len(t.order) {
			return t.order[t.pos]
		}
		t.passes++
		t.order, t.pos = slices.Clone(t.arms), 0
		if t.passes%2 == 1 {
			slices.Reverse(t.order)
		}
	}
	return ""
}

// wait returns when it is arm's turn, or ctx's error.
func (t *turns) wait(ctx context.Context, arm string) error {
	for {
		t.mu.Lock()
		cur, moved := t.current(), t.moved
		t.mu.Unlock()
		if cur == arm {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pass ends arm's turn.
func (t *turns) pass(arm string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.current() == arm {
		t.pos++
	}
	close(t.moved)
	t.moved = make(chan struct{})
}

// finish ends arm's search: its turns are skipped.
func (t *turns) finish(arm string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended[arm] = true
	close(t.moved)
	t.moved = make(chan struct{})
}
