package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"

	"github.com/flipbench/flipbench/results"
)

// CompareSchema names the JSON layout of a [Comparison].
const CompareSchema = "flipbench/compare/v1"

// Defaults for [CompareOptions].
const (
	DefaultAlpha         = 0.05
	DefaultMaxRegression = 0.10
	DefaultConfidence    = 0.95
	// MinRounds is the fewest rounds a run needs to be compared: below
	// four a side, the Mann-Whitney U test cannot reach p <= 0.05 even for
	// samples that do not overlap at all.
	MinRounds = 4
	// bootstrapResamples is the number of resamples behind the confidence
	// interval of the ratio of medians.
	bootstrapResamples = 2000
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

// DefaultGates are the metrics whose regression fails a comparison when
// no others are named: the in-run speedup (the machine's own speed
// cancels out of it) and failed requests.
var DefaultGates = []string{"speedup", "error_rate"}

// CompareOptions tune [Compare].
type CompareOptions struct {
	// Alpha is the significance level of the U test. Zero means
	// [DefaultAlpha].
	Alpha float64
	// MaxRegression is the smallest change, as a fraction (0.10 is 10%),
	// that counts as a regression, and it must hold for the whole
	// confidence interval. Zero means [DefaultMaxRegression].
	MaxRegression float64
	// Gates are metrics that fail the comparison in addition to
	// [DefaultGates], by name ("cluster.p99") or by last part ("p99"
	// gates standard.p99 and cluster.p99), from results.Metrics.
	Gates []string
	// Force compares runs from different CPU counts or images.
	Force bool
	// DropDisturbed leaves out the rounds in which other processes took
	// more than results.DisturbedCores of a core.
	DropDisturbed bool

	// resamples is the bootstrap's resample count; zero means
	// bootstrapResamples. Only the simulation tests lower it, to run
	// thousands of comparisons in seconds.
	resamples int
}

func (o CompareOptions) alpha() float64         { return cmp.Or(o.Alpha, DefaultAlpha) }
func (o CompareOptions) maxRegression() float64 { return cmp.Or(o.MaxRegression, DefaultMaxRegression) }

// gated reports whether metric fails the comparison when it regresses.
func (o CompareOptions) gated(metric string) bool {
	return slices.ContainsFunc(o.gates(), func(g string) bool { return gateMatches(g, metric) })
}

func (o CompareOptions) gates() []string {
	gates := slices.Clone(DefaultGates)
	for _, g := range o.Gates {
		if !slices.Contains(gates, g) {
			gates = append(gates, g)
		}
	}
	return gates
}

// Verdicts of a [Delta].
const (
	VerdictRegression  = "regression"
	VerdictImprovement = "improvement"
	// VerdictSmall is a significant change whose confidence interval does
	// not lie wholly beyond the threshold: it passes, with a note.
	VerdictSmall = "within threshold"
	// VerdictNoChange is printed "~", as benchstat does: the samples do
	// not differ significantly.
	VerdictNoChange = "~"
)

// Stat is one side of a metric: its median and confidence interval over
// the rounds.
type Stat struct {
	Median float64 `json:"median"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	N      int     `json:"n"`
}

// Delta is the comparison of one metric.
type Delta struct {
	Metric string `json:"metric"`
	Unit   string `json:"unit"`
	// HigherIsBetter tells which direction is a regression.
	HigherIsBetter bool `json:"higher_is_better"`
	// Gated metrics fail the comparison when they regress.
	Gated bool `json:"gated"`
	Base  Stat `json:"base"`
	Head  Stat `json:"head"`
	// ChangePct is head's median over base's, minus one, in percent.
	ChangePct float64 `json:"change_pct"`
	// P is the Mann-Whitney U test's one-sided p-value in the direction
	// the metric moved.
	P float64 `json:"p"`
	// ChangePct and the ratio are one estimate of head/base: for positive
	// values the Hodges-Lehmann ratio (the median of every head/base
	// pair, or of the paired rounds' Walsh averages); for counts that may
	// be zero the ratio of means. RatioLo and RatioHi are one-sided
	// (1-alpha) bounds of it: with the default alpha, a 90% interval
	// whose ends are each 95% bounds, for a regression lies on one side.
	RatioLo float64 `json:"ratio_lo"`
	RatioHi float64 `json:"ratio_hi"`
	Verdict string  `json:"verdict"`
	// Warnings explain results that are weaker than they look.
	Warnings []string `json:"warnings,omitempty"`
}

// finite returns v, or nil for ±Inf and NaN, which JSON cannot hold: an
// interval with too few rounds is unbounded, a ratio over a zero median
// infinite, and both are written as null.
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// MarshalJSON writes unbounded ends as null.
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Median *float64 `json:"median"`
		Lo     *float64 `json:"lo"`
		Hi     *float64 `json:"hi"`
		N      int      `json:"n"`
	}{finite(s.Median), finite(s.Lo), finite(s.Hi), s.N})
}

// MarshalJSON writes infinite changes and ratios as null.
func (d Delta) MarshalJSON() ([]byte, error) {
	type plain Delta // without this method
	return json.Marshal(struct {
		plain
		ChangePct *float64 `json:"change_pct"`
		P         *float64 `json:"p"`
		RatioLo   *float64 `json:"ratio_lo"`
		RatioHi   *float64 `json:"ratio_hi"`
	}{plain(d), finite(d.ChangePct), finite(d.P), finite(d.RatioLo), finite(d.RatioHi)})
}

// Regressed reports whether this delta fails the comparison.
func (d Delta) Regressed() bool { return d.Gated && d.Verdict == VerdictRegression }

// RunInfo identifies a compared run.
type RunInfo struct {
	Name string `json:"name"`
	// Build is the binary of a paired comparison's side.
	Build   results.Build `json:"build,omitzero"`
	Version string        `json:"version"`
	Commit  string        `json:"commit"`
	Started string        `json:"started"`
	NumCPU  int           `json:"num_cpu"`
	CPU     string        `json:"cpu_model"`
	Rounds  int           `json:"rounds"`
	Workers int           `json:"workers"`
	Image   string        `json:"image_sha256"`
	Errors  int           `json:"failed_requests"`
}

// Comparison is the result of [Compare].
type Comparison struct {
	Schema string `json:"schema"`
	// Design is DesignTwoRuns or DesignPaired.
	Design        string   `json:"design"`
	Base          RunInfo  `json:"base"`
	Head          RunInfo  `json:"head"`
	Alpha         float64  `json:"alpha"`
	MaxRegression float64  `json:"max_regression"`
	Confidence    float64  `json:"confidence"`
	Deltas        []Delta  `json:"deltas"`
	Notes         []string `json:"notes,omitempty"`
	// Failed lists why the comparison fails: gated regressions and failed
	// requests in head. Empty means it passes.
	Failed []string `json:"failed"`
}

// Passed reports whether nothing gated regressed and head had no failed
// requests.
func (c *Comparison) Passed() bool { return len(c.Failed) == 0 }

// MetricNames lists the metrics Compare can report and gate, in order.
func MetricNames() []string { return results.MetricNames() }

// Validate rejects options that would turn a gate off: NaN, infinite
// or out-of-range levels.
func (o CompareOptions) Validate() error {
	switch a, m := o.Alpha, o.MaxRegression; {
	case math.IsNaN(a) || a < 0 || a >= 0.5:
		return fmt.Errorf("alpha must be above 0 and below 0.5, got %v", a)
	case math.IsNaN(m) || m < 0 || m >= 1:
		return fmt.Errorf("max regression must be a fraction above 0 and below 1, got %v", m)
	}
	for _, g := range o.gates() {
		if !slices.ContainsFunc(results.Metrics(), func(m results.Metric) bool { return gateMatches(g, m.Name) }) {
			return fmt.Errorf("unknown gate %q (metrics: %s)", g, strings.Join(MetricNames(), ", "))
		}
	}
	return nil
}

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
func Compare(base, head *results.Run, baseName, headName string, opt CompareOptions) (*Comparison, error) {
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
	c := newComparison(DesignTwoRuns, runInfo(baseName, base, base.Standard(), base.Cluster()), runInfo(headName, head, head.Standard(), head.Cluster()), opt)
	c.Notes = append(c.Notes, disturbed...)
	if err := c.checkSetups(base, head, base.Cluster(), head.Cluster(), opt.Force); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{baseName, base}, {headName, head}} {
		if n := len(r.run.Clusters()); n > 1 {
			c.Notes = append(c.Notes, fmt.Sprintf("%s measured %d clusters; compared: its first, %s", r.name, n, r.run.Cluster().Name))
		}
		if r.run.Interrupted {
			c.Notes = append(c.Notes, fmt.Sprintf("%s was interrupted: %d of %d rounds", r.name, len(r.run.Rounds), r.run.Config.Rounds))
		}
	}
	if baseName == headName || sameRun(base, head) {
		c.Notes = append(c.Notes, "base and head are the same run: nothing can have changed")
	}
	failed := c.failedRequests()
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{baseName, base}, {headName, head}} {
		if n := r.run.Cluster().Speedup.Rounds; n < MinRounds {
			if failed {
				return c, nil // failed already; too few rounds to say more
			}
			return nil, fmt.Errorf("%s has %d complete rounds; compare needs at least %d (bench 6 rounds or more): %w",
				r.name, n, MinRounds, ErrTooFewRounds)
		}
	}
	thr := &benchmath.Thresholds{CompareAlpha: c.Alpha}
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: the same runs always give the same report
	for _, m := range c.metrics(opt) {
		d := compareMetric(m, m.PerRound(base), m.PerRound(head), thr, c.MaxRegression, cmp.Or(opt.resamples, bootstrapResamples), rng)
		c.add(d, opt)
	}
	return c, nil
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
func ComparePaired(run *results.Run, name string, opt CompareOptions) (*Comparison, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	var disturbed []string
	run, disturbed = handleDisturbed(run, name, opt.DropDisturbed, disturbed)
	pairs := run.Pairs()
	if !run.Paired() || len(pairs) == 0 {
		return nil, fmt.Errorf("%s: %w (bench --base-exe OLD --head-exe NEW writes one); or compare two run files, base and head", name, ErrNotPaired)
	}
	p := pairs[0]
	c := newComparison(DesignPaired, runInfo(name+" (base)", run, p.BaseStandard, p.BaseCluster), runInfo(name+" (head)", run, p.HeadStandard, p.HeadCluster), opt)
	c.Base.Build, c.Head.Build = run.Config.Builds[0], run.Config.Builds[1]
	c.Notes = append(c.Notes, disturbed...)
	if len(pairs) > 1 {
		c.Notes = append(c.Notes, fmt.Sprintf("%s measured %d clusters a build; compared: the first, %s", name, len(pairs), p.Name))
	}
	if run.Interrupted {
		c.Notes = append(c.Notes, fmt.Sprintf("%s was interrupted: %d of %d rounds", name, len(run.Rounds), run.Config.Rounds))
	}
	if c.Base.Build.SHA256 == c.Head.Build.SHA256 {
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
	thr := &benchmath.Thresholds{CompareAlpha: c.Alpha}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range c.metrics(opt) {
		bv, hv := m.Rounds(run, p.BaseStandard, p.BaseCluster), m.Rounds(run, p.HeadStandard, p.HeadCluster)
		c.add(comparePairedMetric(m, bv, hv, thr, c.MaxRegression, cmp.Or(opt.resamples, bootstrapResamples), rng), opt)
	}
	return c, nil
}

// comparePairedMetric compares per-round values: base[i] and head[i]
// were measured in round i (NaN: the round has none).
func comparePairedMetric(m results.Metric, base, head []float64, thr *benchmath.Thresholds, maxReg float64, resamples int, rng *rand.Rand) Delta {
	var b, h, q []float64
	for i := range base {
		if math.IsNaN(base[i]) || math.IsNaN(head[i]) {
			continue
		}
		b, h = append(b, base[i]), append(h, head[i])
		if base[i] > 0 && head[i] > 0 {
			q = append(q, head[i]/base[i])
		}
	}
	if len(q) < len(b) || len(q) == 0 {
		// Counts that may be zero have no per-round ratio: as two samples.
		return compareMetric(m, b, h, thr, maxReg, resamples, rng)
	}
	d := newDelta(m, b, h, thr)
	if constant(q) && q[0] == 1 {
		d.P, d.RatioLo, d.RatioHi, d.Verdict = 1, 1, 1, VerdictNoChange
		return d
	}
	d.setVerdict(pairedRatio(q, thr.CompareAlpha), thr.CompareAlpha, maxReg)
	return d
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

func newComparison(design string, base, head RunInfo, opt CompareOptions) *Comparison {
	return &Comparison{
		Schema: CompareSchema, Design: design, Base: base, Head: head,
		Alpha: opt.alpha(), MaxRegression: opt.maxRegression(), Confidence: DefaultConfidence,
		Failed: []string{},
	}
}

// checkSetups refuses, unless force, two runs that measured different
// things; with force it notes each difference.
func (c *Comparison) checkSetups(base, head *results.Run, bc, hc *results.Arm, force bool) error {
	type diff struct{ what, b, h, why string }
	var diffs []diff
	add := func(what string, b, h any, why string) {
		if fmt.Sprint(b) != fmt.Sprint(h) {
			diffs = append(diffs, diff{what, fmt.Sprint(b), fmt.Sprint(h), why})
		}
	}
	add("CPU counts", base.Env.NumCPU, head.Env.NumCPU, "the speedup depends on them")
	add("images", short(base.Config.Image.SHA256), short(head.Config.Image.SHA256), "every time depends on them")
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

func short(sha string) string {
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

// metrics are those compared: the Compared ones and the gated ones.
func (c *Comparison) metrics(opt CompareOptions) []results.Metric {
	var out []results.Metric
	for _, m := range results.Metrics() {
		if m.Compared || opt.gated(m.Name) {
			out = append(out, m)
		}
	}
	return out
}

// add records d, gated or not, and its regression.
func (c *Comparison) add(d Delta, opt CompareOptions) {
	d.Gated = opt.gated(d.Metric)
	if d.Regressed() {
		c.Failed = append(c.Failed, d.regression())
	}
	c.Deltas = append(c.Deltas, d)
}

// schedOf is the dispatch policy of a run's compared cluster: "shared"
// for flipbench's servers before there was a choice, "" for servers
// under test.
func schedOf(r *results.Run) string {
	if s := r.Cluster().Sched; s != "" || r.Config.StandardCmd != "" {
		return s
	}
	return "shared"
}

// gateMatches reports whether gate names metric: exactly, or by the
// part after the mode ("errors" is standard.errors and cluster.errors).
func gateMatches(gate, metric string) bool {
	if gate == metric {
		return true
	}
	_, short, ok := strings.Cut(metric, ".")
	return ok && gate == short
}

func compareMetric(m results.Metric, base, head []float64, thr *benchmath.Thresholds, maxReg float64, resamples int, rng *rand.Rand) Delta {
	d := newDelta(m, base, head, thr)
	for _, v := range [][]float64{base, head} {
		for _, w := range benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(v), thr), DefaultConfidence).Warnings {
			d.Warnings = appendUnique(d.Warnings, w.Error())
		}
	}
	if constant(base) && constant(head) && d.Base.Median == d.Head.Median {
		// Nothing varies (no errors on either side, say): no change, and
		// the rank test has nothing to rank.
		d.P, d.RatioLo, d.RatioHi, d.Verdict = 1, 1, 1, VerdictNoChange
		return d
	}
	var ri ratioInterval
	if positive(base) && positive(head) {
		// Times, throughputs, speedups: head/base as the Hodges-Lehmann
		// ratio, bounded by inverting the U test, so that the change
		// printed is the quantity gated and the bounds' coverage holds
		// at any round count.
		ri = shiftRatio(base, head, thr.CompareAlpha)
	} else {
		// Counts that may be zero (failed requests) have no logs: the
		// ratio of means, bootstrapped, with the U test's p-value.
		ri = meanRatio(base, head, thr.CompareAlpha, resamples, rng)
	}
	d.setVerdict(ri, thr.CompareAlpha, maxReg)
	return d
}

// setVerdict records the ratio and its bounds and decides: a regression
// is significant (P <= alpha) and its one-sided bound lies beyond the
// threshold in the bad direction.
func (d *Delta) setVerdict(ri ratioInterval, alpha, maxReg float64) {
	d.ChangePct = (ri.Est - 1) * 100
	d.P, d.RatioLo, d.RatioHi = ri.P, ri.Lo, ri.Hi
	worse := (ri.Est < 1) == d.HigherIsBetter
	if ri.Est == 1 {
		worse = false
	}
	switch {
	case d.P > alpha:
		d.Verdict = VerdictNoChange
	case worse && d.HigherIsBetter && d.RatioHi < 1-maxReg, worse && !d.HigherIsBetter && d.RatioLo > 1+maxReg:
		d.Verdict = VerdictRegression
	case !worse && d.HigherIsBetter && d.RatioLo > 1+maxReg, !worse && !d.HigherIsBetter && d.RatioHi < 1-maxReg:
		d.Verdict = VerdictImprovement
	default:
		d.Verdict = VerdictSmall
	}
}

func positive(v []float64) bool {
	for _, x := range v {
		if !(x > 0) || math.IsInf(x, 0) {
			return false
		}
	}
	return len(v) > 0
}

// meanRatio is mean(head)/mean(base) with the percentile bootstrap's
// one-sided (1-alpha) bounds, and the U test's one-sided p-value.
func meanRatio(base, head []float64, alpha float64, resamples int, rng *rand.Rand) ratioInterval {
	ri := ratioInterval{}
	mb, mh := center(base), center(head)
	switch {
	case mb == 0 && mh == 0:
		ri.Est = 1
	case mb == 0:
		ri.Est = math.Inf(1) // from nothing to something: no errors, then some
	default:
		ri.Est = mh / mb
	}
	ri.Lo, ri.Hi = bootstrapRatio(base, head, 1-2*alpha, resamples, rng)
	ri.P = min(uTest(head, base, stats.LocationLess), uTest(head, base, stats.LocationGreater))
	return ri
}

// uTest is the Mann-Whitney U test's p-value for the alternative alt
// (head's location less or greater than base's); 1 if it cannot run.
func uTest(head, base []float64, alt stats.LocationHypothesis) float64 {
	res, err := stats.MannWhitneyUTest(head, base, alt)
	if err != nil {
		return 1
	}
	return res.P
}

// newDelta starts the comparison of m: each side's median and interval.
func newDelta(m results.Metric, base, head []float64, thr *benchmath.Thresholds) Delta {
	return Delta{Metric: m.Name, Unit: m.Unit, HigherIsBetter: m.HigherIsBetter,
		Base: summarize(benchmath.NewSample(slices.Clone(base), thr)),
		Head: summarize(benchmath.NewSample(slices.Clone(head), thr))}
}

func summarize(s *benchmath.Sample) Stat {
	sum := benchmath.AssumeNothing.Summary(s, DefaultConfidence)
	return Stat{Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, N: len(s.Values)}
}

// bootstrapRatio is the percentile bootstrap confidence interval of
// mean(head)/mean(base) (see center). A base of zero makes the ratio
// infinite; the interval is then (+Inf, +Inf) or, with head zero too, 1.
func bootstrapRatio(base, head []float64, confidence float64, resamples int, rng *rand.Rand) (lo, hi float64) {
	ratios := make([]float64, resamples)
	bb, hb := make([]float64, len(base)), make([]float64, len(head))
	for i := range ratios {
		for j := range bb {
			bb[j] = base[rng.IntN(len(base))]
		}
		for j := range hb {
			hb[j] = head[rng.IntN(len(head))]
		}
		mb, mh := center(bb), center(hb)
		switch {
		case mb == 0 && mh == 0:
			ratios[i] = 1
		case mb == 0:
			ratios[i] = math.Inf(1)
		default:
			ratios[i] = mh / mb
		}
	}
	slices.Sort(ratios)
	tail := (1 - confidence) / 2 * 100
	return results.Percentile(ratios, tail), results.Percentile(ratios, 100-tail)
}

// center is the statistic whose ratio is bootstrapped: the mean. With
// the 5 to 10 rounds a bench has, the median of a resample jumps between
// a few order statistics and its interval is too wide to ever lie beyond
// a 10% threshold; the mean's is not, and the U test already guards
// against the outliers a mean is weak to.
func center(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func constant(v []float64) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return true
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func runInfo(name string, r *results.Run, std, cl *results.Arm) RunInfo {
	return RunInfo{
		Name: name, Version: r.Env.Version, Commit: r.Env.Commit, Started: r.Started,
		NumCPU: r.Env.NumCPU, CPU: r.Env.CPU, Rounds: cl.Speedup.Rounds, Workers: cl.Workers,
		Image: r.Config.Image.SHA256, Errors: std.Errors + cl.Errors,
	}
}

// regression says how d regressed, without a sign to decode: "speedup
// fell by 44.2%", "cluster.p99 rose by 78.7%".
func (d Delta) regression() string {
	dir := "rose"
	if math.IsInf(d.ChangePct, 1) {
		return d.Metric + " rose from zero"
	}
	if d.ChangePct < 0 {
		dir = "fell"
	}
	pct := strings.TrimPrefix(strings.TrimPrefix(formatPct(d.ChangePct), "+"), "-")
	return fmt.Sprintf("%s %s by %s", d.Metric, dir, pct)
}

func formatPct(p float64) string {
	if math.IsInf(p, 1) {
		return "+∞%"
	}
	return fmt.Sprintf("%+.1f%%", p)
}
