package verdict

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"golang.org/x/perf/benchmath"

	"github.com/flipbench/flipbench/results"
)

// Errors that make two runs impossible to compare: the CLI exits 2.
var (
	ErrIncomparable = errors.New("runs are not comparable")
	ErrTooFewRounds = errors.New("too few rounds")
	// ErrDifferentSetups wraps ErrIncomparable for runs that measured
	// different things: --force compares them anyway.
	ErrDifferentSetups = fmt.Errorf("different setups: %w", ErrIncomparable)
	// ErrNotPaired is returned by ComparePaired for a run of one build.
	ErrNotPaired = errors.New("not a paired A/B bench")
)

// Designs of a [Comparison].
const (
	// DesignTwoRuns compares two runs, each a bench of one build: their
	// rounds are independent samples.
	DesignTwoRuns = "two runs"
	// DesignPaired compares the base and head builds of one paired
	// bench round by round: each round measured both minutes apart.
	DesignPaired = "paired"
)

// Compare compares head with base, metric by metric, the way benchstat
// does: the median and confidence interval of each side over its rounds,
// and the Mann-Whitney U test. The change is the Hodges-Lehmann ratio
// head/base, bounded by inverting the same test, so the bounds hold at
// any round count whatever the noise's distribution. A metric regresses
// only when the change is significant (p <= Alpha) and its bound lies
// wholly beyond MaxRegression in the bad direction, so that noise on a
// shared CI runner does not fail a build.
//
// It returns an error wrapping [ErrIncomparable] for runs of another
// schema, or of a different setup (CPU count, image, dispatch policy,
// cluster size, burst size, threads) unless Force, and [ErrTooFewRounds]
// for runs of fewer than [MinRounds] rounds. Failed requests in head
// fail the comparison whatever the rounds.
func Compare(base, head *results.Run, baseName, headName string, opt Options) (*Comparison, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{baseName, base}, {headName, head}} {
		if r.run.Schema != results.RunSchema {
			return nil, fmt.Errorf("%s: schema %q, want %q: %w", r.name, r.run.Schema, results.RunSchema, ErrIncomparable)
		}
	}
	var disturbed []string
	base, disturbed = handleDisturbed(base, baseName, opt.DropDisturbed, disturbed)
	head, disturbed = handleDisturbed(head, headName, opt.DropDisturbed, disturbed)
	bs, err := sideOf(base, "", baseName)
	if err != nil {
		return nil, err
	}
	hs, err := sideOf(head, "", headName)
	if err != nil {
		return nil, err
	}
	c := newComparison(DesignTwoRuns, runInfo(baseName, bs), runInfo(headName, hs), opt)
	c.Notes = append(c.Notes, disturbed...)
	if err := c.checkSetups(bs, hs, opt.Force); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		name string
		side side
	}{{baseName, bs}, {headName, hs}} {
		if note := r.side.note(r.name, false); note != "" {
			c.Notes = append(c.Notes, note)
		}
		if r.side.run.Interrupted {
			c.Notes = append(c.Notes, fmt.Sprintf("%s was interrupted: %d of %d rounds", r.name, len(r.side.run.Rounds), r.side.run.Config.Rounds))
		}
	}
	if baseName == headName || sameRun(base, head) {
		c.Notes = append(c.Notes, "base and head are the same run: nothing can have changed")
	}
	failed := c.failedRequests()
	for _, r := range []struct {
		name string
		side side
	}{{baseName, bs}, {headName, hs}} {
		if n := r.side.primary.Speedup.Rounds; n < MinRounds {
			if failed {
				return c, nil // failed already; too few rounds to say more
			}
			return nil, fmt.Errorf("%s has %d complete rounds; compare needs at least %d (bench 6 rounds or more): %w",
				r.name, n, MinRounds, ErrTooFewRounds)
		}
	}
	if err := c.compareSides(bs, hs, opt); err != nil {
		return nil, err
	}
	return c, nil
}

// compareSides compares every metric of hs's that the gates and the
// table name with its counterpart in bs, in the table's order: round by
// round in a paired comparison, as two samples otherwise. A paired
// comparison's gates are then decided together ([familyTest]).
func (c *Comparison) compareSides(bs, hs side, opt Options) error {
	gated, err := c.gatedMetrics(hs, opt)
	if err != nil {
		return err
	}
	thr := &benchmath.Thresholds{CompareAlpha: c.Alpha}
	resamples := cmp.Or(opt.resamples, bootstrapResamples)
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: the same runs always give the same report
	var family []member
	for _, m := range hs.metrics(gated) {
		b, h := bs.counterpart(hs, m.Arm), hs.run.ArmIn(hs.build, m.Arm)
		if b == nil {
			return fmt.Errorf("%s: base has no arm %s: %w", m.Name, m.Arm, ErrIncomparable)
		}
		bv, hv := m.PerRound(bs.run, b), m.PerRound(hs.run, h)
		if len(bv) == 0 || len(hv) == 0 {
			// A figure a run did not measure: the cost, in older files or
			// of a server whose process is not known.
			if gated[m.Name] {
				c.Notes = append(c.Notes, fmt.Sprintf("gate %s not applied: not measured in base or head", m.Name))
			}
			continue
		}
		var d Delta
		if c.Design == DesignPaired {
			br, hr := m.Rounds(bs.run, b), m.Rounds(hs.run, h)
			d = comparePairedMetric(m, br, hr, thr, c.MaxRegression, resamples, rng)
			if gated[m.Name] && ratioMetric(br, hr) {
				family = append(family, member{delta: len(c.Deltas), base: br, head: hr})
			}
		} else {
			d = compareMetric(m, bv, hv, thr, c.MaxRegression, resamples, rng)
		}
		d.Gated = gated[m.Name]
		c.Deltas = append(c.Deltas, d)
	}
	c.decideFamily(family)
	c.sortRegressions()
	return nil
}

// sortRegressions lists each regression of the deltas as failing the
// comparison (gated) or advisory.
func (c *Comparison) sortRegressions() {
	for _, d := range c.Deltas {
		switch {
		case d.Regressed():
			c.Failed = append(c.Failed, d.Regression())
		case d.Verdict == VerdictRegression:
			c.Advisory = append(c.Advisory, d.Regression())
		}
	}
}

// gatedMetrics resolves the design's gates and the options' against
// hs's metrics, the advisory ones left out.
func (c *Comparison) gatedMetrics(hs side, opt Options) (map[string]bool, error) {
	gated, err := hs.gated(opt.gates(c.Design))
	if err != nil {
		return nil, err
	}
	advisory, err := hs.gated(opt.Advisory)
	if err != nil {
		return nil, fmt.Errorf("advisory: %w", err)
	}
	for name := range advisory {
		delete(gated, name)
	}
	return gated, nil
}

// MinPairedRounds is the fewest rounds a paired comparison needs: below
// five, the signed-rank test cannot reach p <= 0.05 even when head is
// worse in every round, so no change could be shown.
const MinPairedRounds = 5

// ComparePaired compares the head build of a paired A/B bench (bench
// --base-exe --head-exe) with its base build, round by round: each
// metric's per-round ratio head/base, its Hodges-Lehmann estimate and
// the bounds that invert the Wilcoxon signed-rank test. The machine's
// drift between runs, which no interval over two separate runs can see,
// cancels out of each round's ratio.
func ComparePaired(run *results.Run, name string, opt Options) (*Comparison, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	var disturbed []string
	run, disturbed = handleDisturbed(run, name, opt.DropDisturbed, disturbed)
	if !run.Paired() || len(run.Pairs()) == 0 {
		return nil, fmt.Errorf("%s: %w (bench --base-exe OLD --head-exe NEW writes one); or compare two run files, base and head", name, ErrNotPaired)
	}
	bs, err := sideOf(run, results.Base, name+" (base)")
	if err != nil {
		return nil, err
	}
	hs, err := sideOf(run, results.Head, name+" (head)")
	if err != nil {
		return nil, err
	}
	c := newComparison(DesignPaired, runInfo(name+" (base)", bs), runInfo(name+" (head)", hs), opt)
	c.Base.Build, c.Head.Build = run.Config.Builds[0], run.Config.Builds[1]
	c.Notes = append(c.Notes, disturbed...)
	if note := hs.note(name, true); note != "" {
		c.Notes = append(c.Notes, note)
	}
	if run.Interrupted {
		c.Notes = append(c.Notes, fmt.Sprintf("%s was interrupted: %d of %d rounds", name, len(run.Rounds), run.Config.Rounds))
	}
	if c.Base.Build.SHA256 != "" && c.Base.Build.SHA256 == c.Head.Build.SHA256 {
		c.Notes = append(c.Notes, "base and head are the same binary: any change is noise")
	}
	if n := len(run.Rounds); n < MinPairedRounds {
		if c.failedRequests() {
			return c, nil // failed already; too few rounds to say more
		}
		return nil, fmt.Errorf("%s has %d complete rounds; a paired comparison needs at least %d (bench 6 rounds or more): %w",
			name, n, MinPairedRounds, ErrTooFewRounds)
	}
	c.failedRequests()
	if err := c.compareSides(bs, hs, opt); err != nil {
		return nil, err
	}
	return c, nil
}

// handleDisturbed notes a run's disturbed rounds and, with drop, returns
// a copy of the run without them.
func handleDisturbed(r *results.Run, name string, drop bool, notes []string) (*results.Run, []string) {
	rounds := r.DisturbedRounds()
	if len(rounds) == 0 {
		return r, notes
	}
	if !drop {
		return r, append(notes, fmt.Sprintf("%s had disturbed rounds %v: other processes took more than %.2f of a core (--drop-disturbed leaves them out)", name, rounds, results.DisturbedCores))
	}
	cp := *r
	cp.Arms = slices.Clone(r.Arms)
	cp.Rounds = slices.Clone(r.Rounds)
	cp.DropRounds(rounds)
	return &cp, append(notes, fmt.Sprintf("%s: disturbed rounds %v left out", name, rounds))
}

func newComparison(design string, base, head RunInfo, opt Options) *Comparison {
	return &Comparison{
		Schema: CompareSchema, Design: design, Base: base, Head: head,
		Alpha: opt.alpha(), MaxRegression: opt.maxRegression(), Confidence: DefaultConfidence,
		Failed: []string{},
	}
}

// checkSetups refuses, unless force, two runs that measured different
// things; with force it notes each difference.
func (c *Comparison) checkSetups(bs, hs side, force bool) error {
	base, head, bc, hc := bs.run, hs.run, bs.primary, hs.primary
	type diff struct{ what, b, h, why string }
	var diffs []diff
	add := func(what string, b, h any, why string) {
		if fmt.Sprint(b) != fmt.Sprint(h) {
			diffs = append(diffs, diff{what, fmt.Sprint(b), fmt.Sprint(h), why})
		}
	}
	add("CPU counts", base.Env.NumCPU, head.Env.NumCPU, "the speedup depends on them")
	add("images", ShortSHA(base.Config.Image.SHA256), ShortSHA(head.Config.Image.SHA256), "every time depends on them")
	add("dispatch policies", schedOf(base), schedOf(head), "the policy decides the last response")
	add("cluster sizes", bc.Workers, hc.Workers, "the speedup grows with the workers")
	add("burst sizes (-n)", base.Config.N, head.Config.N, "the last response grows with the burst")
	add("threads a worker", base.Config.Threads, head.Config.Threads, "they change a job's time")
	for _, d := range diffs {
		why := fmt.Sprintf("%s differ: base %s, head %s", d.what, d.b, d.h)
		if !force {
			return fmt.Errorf("%s (%s): %w", why, d.why, ErrDifferentSetups)
		}
		c.Notes = append(c.Notes, "compared although they differ (forced): "+why)
	}
	return nil
}

// ShortSHA is the first 12 hex digits of a digest, as the tables show it.
func ShortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// sameRun reports whether two runs are one: same start, same
// environment, same wall time.
func sameRun(a, b *results.Run) bool {
	return a.Started == b.Started && a.Env == b.Env && a.WallMs == b.WallMs && len(a.Rounds) == len(b.Rounds)
}

// failedRequests adds head's failed requests to the reasons the
// comparison fails, and reports whether there were any: a head that
// failed has regressed, however few rounds it finished.
func (c *Comparison) failedRequests() bool {
	if c.Head.Errors == 0 {
		return false
	}
	c.Failed = append(c.Failed, fmt.Sprintf("head had %d failed requests", c.Head.Errors))
	return true
}

// schedOf is the dispatch policy of a run's compared cluster: "shared"
// for flipbench's servers before there was a choice, "" for servers
// under test.
func schedOf(r *results.Run) string {
	if s := r.Primary().Sched; s != "" || r.Config.StandardCmd != "" {
		return s
	}
	return "shared"
}

func runInfo(name string, s side) RunInfo {
	r, std, cl := s.run, s.std, s.primary
	return RunInfo{
		Name: name, Version: r.Env.Version, Commit: r.Env.Commit, Started: r.Started,
		NumCPU: r.Env.NumCPU, CPU: r.Env.CPU, Rounds: cl.Speedup.Rounds, Workers: cl.Workers,
		Image: r.Config.Image.SHA256, Errors: std.Errors + cl.Errors, SLOs: r.Config.SLOs,
	}
}
