package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

// Run runs the bench cfg describes, step by step as [Schedule] orders
// it, and stops every server it started before it returns. A round
// counts only when every arm measured it.
//
// When ctx is cancelled it stops early and returns the rounds that
// finished, with Interrupted set and no error. Failed requests are data
// in the run (see results.Run.Check), not an error. A server that fails
// to start, or a burst that cannot be sent, ends the bench with an error
// and no run; a server that did not stop cleanly is an error returned
// with the run, whose measurements are whole.
func Run(ctx context.Context, cfg Config) (*results.Run, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	run, arms, names, err := newRun(cfg, results.RunConfig{N: cfg.requests(), Rounds: cfg.rounds()})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	b := &bencher{cfg: cfg, arms: arms, running: map[string]Server{}, measured: map[Step]results.RoundSide{}}
	defer b.stopAll()
	failed, err := b.execute(ctx, Schedule(names, cfg.rounds(), cfg.Servers.Sequential()))
	if err != nil && ctx.Err() == nil && failed.Action != Stop {
		return nil, err
	}
	b.assemble(run)
	return finish(ctx, run, start, err)
}

// finish derives the figures of a run that began at start and returns
// it: an interrupted run without err, the rest with it.
func finish(ctx context.Context, run *results.Run, start time.Time, err error) (*results.Run, error) {
	run.Interrupted = ctx.Err() != nil
	run.Derive()
	run.WallMs = results.Ms(time.Since(start))
	if run.Interrupted {
		return run, nil
	}
	return run, err
}

// newRun is the run of cfg's arms before anything is measured: its
// environment, conf with what the servers describe, and the arms (by
// name, and their names in order).
func newRun(cfg Config, conf results.RunConfig) (*results.Run, map[string]results.ArmSpec, []string, error) {
	run := &results.Run{
		Schema:  results.RunSchema,
		Env:     results.CurrentEnv(cfg.Version, cfg.Commit),
		Config:  conf,
		Started: time.Now().UTC().Format(time.RFC3339),
		Order:   []string{},
		Rounds:  []results.Round{},
	}
	arms := map[string]results.ArmSpec{}
	var names []string
	for _, a := range cfg.Servers.Arms() {
		run.Arms = append(run.Arms, results.Arm{ArmSpec: a})
		arms[a.Name] = a
		names = append(names, a.Name)
	}
	if err := run.Validate(); err != nil {
		return nil, nil, nil, err
	}
	if err := cfg.Servers.Describe(&run.Config); err != nil {
		return nil, nil, nil, err
	}
	return run, arms, names, nil
}

// bencher carries out a schedule.
type bencher struct {
	cfg      Config
	arms     map[string]results.ArmSpec // by name
	running  map[string]Server          // by arm
	measured map[Step]results.RoundSide
	order    []Step // the measure steps, in the order they ran
}

// execute runs the steps in order until one fails, which it returns with
// its error, or ctx is done.
func (b *bencher) execute(ctx context.Context, steps []Step) (Step, error) {
	for _, st := range steps {
		if ctx.Err() != nil {
			return Step{}, nil
		}
		var err error
		switch st.Action {
		case Start:
			err = b.start(ctx, st.Arm)
		case WarmUp:
			err = b.cfg.measurement().WarmUp(ctx, b.target(st.Arm, "warm-up "+st.Arm))
		case Measure:
			err = b.measure(ctx, st)
		case Stop:
			err = b.stop(st.Arm)
		}
		if err != nil {
			return st, err
		}
	}
	return Step{}, nil
}

// start starts arm's server; only a server that started is kept, to be
// stopped.
func (b *bencher) start(ctx context.Context, arm string) error {
	s, err := b.cfg.Servers.Start(ctx, b.arms[arm])
	if err != nil {
		return err
	}
	b.running[arm] = s
	return nil
}

// target is arm, whose server runs, as a measurement sees it.
func (b *bencher) target(arm, label string) Target {
	return Target{Arm: b.arms[arm], URL: b.running[arm].URL(), Label: label, loader: b.cfg.loader(), progress: b.cfg.Progress}
}

// measure runs one measured round at one arm, the CPU time the machine,
// the bench and its servers used meanwhile, and what it cost the arm's
// server (its process tree's CPU time and peak memory); an interrupted
// measurement is not kept.
func (b *bencher) measure(ctx context.Context, st Step) error {
	cpu, cost := takeCPU(), startCost(b.running[st.Arm].PID())
	side, interrupted, err := b.cfg.measurement().Measure(ctx, b.target(st.Arm, fmt.Sprintf("%s %d/%d", st.Arm, st.Round, b.cfg.rounds())))
	spent := cost.stop()
	if err != nil || interrupted {
		return err
	}
	side.Arm, side.CPU, side.Cost = st.Arm, cpu.since(), spent
	for i := range side.Results {
		side.Results[i].Round = st.Round
	}
	b.measured[st] = side
	b.order = append(b.order, st)
	return nil
}

// stop stops arm's server, if it runs.
func (b *bencher) stop(arm string) error {
	s := b.running[arm]
	if s == nil {
		return nil
	}
	delete(b.running, arm)
	ctx, cancel := context.WithTimeout(context.Background(), 2*server.DefaultGrace)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		return fmt.Errorf("stop %s: %w", arm, err)
	}
	return nil
}

// stopAll stops whatever still runs, after a failure or an interruption.
func (b *bencher) stopAll() {
	for arm := range b.running {
		b.stop(arm)
	}
}

// assemble puts the rounds that every arm measured into run, in round
// order, and the order in which their bursts ran; the bursts of rounds
// an interruption cut short are named in run.CutShort, with their own
// figures, so that finished work is printed and kept even when no round
// is complete.
func (b *bencher) assemble(run *results.Run) {
	complete := func(round int) bool {
		for _, a := range run.Arms {
			if _, ok := b.measured[Step{Action: Measure, Arm: a.Name, Round: round}]; !ok {
				return false
			}
		}
		return true
	}
	for r := 1; r <= b.cfg.rounds(); r++ {
		if !complete(r) {
			continue
		}
		rd := results.Round{Round: r}
		for _, a := range run.Arms {
			rd.Arms = append(rd.Arms, b.measured[Step{Action: Measure, Arm: a.Name, Round: r}])
		}
		run.Rounds = append(run.Rounds, rd)
	}
	for _, st := range b.order {
		if complete(st.Round) {
			run.Order = append(run.Order, st.Arm)
		} else {
			run.CutShort = append(run.CutShort, cutShort(st, b.measured[st]))
		}
	}
}

// cutShort says what a burst of a round cut short measured: "round 1:
// standard (4 of 4 ok, last response 5.21 s)".
func cutShort(st Step, side results.RoundSide) string {
	s := results.Summarize(side.Results)
	if s.OK == 0 {
		return fmt.Sprintf("round %d: %s (%d of %d ok)", st.Round, st.Arm, s.OK, s.Requests)
	}
	return fmt.Sprintf("round %d: %s (%d of %d ok, last response %.2f s)", st.Round, st.Arm, s.OK, s.Requests, s.LastMs/1000)
}
