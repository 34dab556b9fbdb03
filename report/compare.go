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
	// RatioConfidence is the two-sided level of the ratio's interval:
	// each end is a one-sided 95% bound, matching the one-sided test, for
	// a regression lies on one side only.
	RatioConfidence = 0.90
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

	// resamples is the bootstrap's resample count; zero means
	// bootstrapResamples. Only the simulation tests lower it, to run
	// thousands of comparisons in seconds.
	resamples int
}

func (o CompareOptions) alpha() float64         { return cmp.Or(o.Alpha, DefaultAlpha) }
func (o CompareOptions) maxRegression() float64 { return cmp.Or(o.MaxRegression, DefaultMaxRegression) }

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
	// RatioLo and RatioHi bound the 90% confidence interval of head over
	// base (a bootstrap of the ratio of means): each is a one-sided 95%
	// bound.
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
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Started string `json:"started"`
	NumCPU  int    `json:"num_cpu"`
	CPU     string `json:"cpu_model"`
	Rounds  int    `json:"rounds"`
	Workers int    `json:"workers"`
	Image   string `json:"image_sha256"`
	Errors  int    `json:"failed_requests"`
}

// Comparison is the result of [Compare].
type Comparison struct {
	Schema        string   `json:"schema"`
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

// Compare compares head with base, metric by metric, the way benchstat
// does: the median and confidence interval of each side over its rounds,
// and the Mann-Whitney U test. A metric regresses only when the change is
// significant (p <= Alpha) and the bootstrap confidence interval of
// head/base lies wholly beyond MaxRegression in the bad direction, so that
// noise on a shared CI runner does not fail a build.
//
// It returns an error wrapping [ErrIncomparable] for runs of another
// schema, of different CPU counts or images (unless Force), and
// [ErrTooFewRounds] for runs of fewer than [MinRounds] rounds.
func Compare(base, head *results.Run, baseName, headName string, opt CompareOptions) (*Comparison, error) {
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{baseName, base}, {headName, head}} {
		if r.run.Schema != results.RunSchema {
			return nil, fmt.Errorf("%s: schema %q, want %q: %w", r.name, r.run.Schema, results.RunSchema, ErrIncomparable)
		}
		if n := r.run.Cluster().Speedup.Rounds; n < MinRounds {
			return nil, fmt.Errorf("%s has %d complete rounds; compare needs at least %d (bench 6 rounds or more): %w",
				r.name, n, MinRounds, ErrTooFewRounds)
		}
	}
	for _, g := range opt.gates() {
		if !slices.ContainsFunc(results.Metrics(), func(m results.Metric) bool { return gateMatches(g, m.Name) }) {
			return nil, fmt.Errorf("unknown gate %q (metrics: %s)", g, strings.Join(MetricNames(), ", "))
		}
	}
	c := &Comparison{
		Schema:        CompareSchema,
		Base:          runInfo(baseName, base),
		Head:          runInfo(headName, head),
		Alpha:         opt.alpha(),
		MaxRegression: opt.maxRegression(),
		Confidence:    DefaultConfidence,
		Failed:        []string{},
	}
	if base.Env.NumCPU != head.Env.NumCPU || base.Config.Image.SHA256 != head.Config.Image.SHA256 {
		why := fmt.Sprintf("base ran on %d CPUs with image %.12s, head on %d CPUs with image %.12s",
			base.Env.NumCPU, base.Config.Image.SHA256, head.Env.NumCPU, head.Config.Image.SHA256)
		if !opt.Force {
			return nil, fmt.Errorf("%s; the speedup and every time depend on both: %w", why, ErrIncomparable)
		}
		c.Notes = append(c.Notes, "compared although they differ (forced): "+why)
	}
	if bs, hs := schedOf(base), schedOf(head); bs != hs {
		why := fmt.Sprintf("base dispatched with %s, head with %s", bs, hs)
		if !opt.Force {
			return nil, fmt.Errorf("%s; the dispatch policy decides the last response: %w", why, ErrIncomparable)
		}
		c.Notes = append(c.Notes, "compared although they differ (forced): "+why)
	}
	if bw, hw := base.Cluster().Workers, head.Cluster().Workers; bw != hw {
		c.Notes = append(c.Notes, fmt.Sprintf("the cluster had %d workers in base and %d in head", bw, hw))
	}
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{baseName, base}, {headName, head}} {
		if n := len(r.run.Clusters()); n > 1 {
			c.Notes = append(c.Notes, fmt.Sprintf("%s measured %d clusters; compared: its first, %s", r.name, n, r.run.Cluster().Name))
		}
	}
	thr := &benchmath.Thresholds{CompareAlpha: c.Alpha}
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: the same runs always give the same report
	for _, m := range results.Metrics() {
		gated := slices.ContainsFunc(opt.gates(), func(g string) bool { return gateMatches(g, m.Name) })
		if !m.Compared && !gated {
			continue
		}
		d := compareMetric(m, m.PerRound(base), m.PerRound(head), thr, c.MaxRegression, cmp.Or(opt.resamples, bootstrapResamples), rng)
		d.Gated = gated
		if d.Regressed() {
			c.Failed = append(c.Failed, fmt.Sprintf("%s regressed by %s", d.Metric, formatPct(d.ChangePct)))
		}
		c.Deltas = append(c.Deltas, d)
	}
	if c.Head.Errors > 0 {
		c.Failed = append(c.Failed, fmt.Sprintf("head had %d failed requests", c.Head.Errors))
	}
	return c, nil
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
	d := Delta{Metric: m.Name, Unit: m.Unit, HigherIsBetter: m.HigherIsBetter}
	bs := benchmath.NewSample(slices.Clone(base), thr)
	hs := benchmath.NewSample(slices.Clone(head), thr)
	d.Base, d.Head = summarize(bs), summarize(hs)
	for _, w := range append(benchmath.AssumeNothing.Summary(bs, DefaultConfidence).Warnings, benchmath.AssumeNothing.Summary(hs, DefaultConfidence).Warnings...) {
		d.Warnings = appendUnique(d.Warnings, w.Error())
	}
	switch {
	case d.Base.Median != 0:
		d.ChangePct = (d.Head.Median/d.Base.Median - 1) * 100
	case d.Head.Median > 0:
		d.ChangePct = math.Inf(1) // from nothing to something: no errors, then some
	}
	if constant(base) && constant(head) && d.Base.Median == d.Head.Median {
		// Nothing varies (no errors on either side, say): no change, and
		// the U test has nothing to rank.
		d.P, d.RatioLo, d.RatioHi, d.Verdict = 1, 1, 1, VerdictNoChange
		return d
	}
	// benchmath's two-sided test, for its warnings about sample sizes.
	for _, w := range benchmath.AssumeNothing.Compare(bs, hs).Warnings {
		d.Warnings = appendUnique(d.Warnings, w.Error())
	}
	// A gate asks a one-sided question, "did head get worse?", and an
	// improvement the opposite one: P is the U test's one-sided p-value in
	// the direction the medians moved.
	pLess, pGreater := uTest(hs.Values, bs.Values, stats.LocationLess), uTest(hs.Values, bs.Values, stats.LocationGreater)
	headLower := pLess <= pGreater
	d.P = min(pLess, pGreater)
	d.RatioLo, d.RatioHi = bootstrapRatio(bs.Values, hs.Values, RatioConfidence, resamples, rng)
	worse := headLower == m.HigherIsBetter
	switch {
	case d.P > thr.CompareAlpha:
		d.Verdict = VerdictNoChange
	case worse && m.HigherIsBetter && d.RatioHi < 1-maxReg, worse && !m.HigherIsBetter && d.RatioLo > 1+maxReg:
		d.Verdict = VerdictRegression
	case !worse && m.HigherIsBetter && d.RatioLo > 1+maxReg, !worse && !m.HigherIsBetter && d.RatioHi < 1-maxReg:
		d.Verdict = VerdictImprovement
	default:
		d.Verdict = VerdictSmall
	}
	return d
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

func runInfo(name string, r *results.Run) RunInfo {
	return RunInfo{
		Name: name, Version: r.Env.Version, Commit: r.Env.Commit, Started: r.Started,
		NumCPU: r.Env.NumCPU, CPU: r.Env.CPU, Rounds: r.Cluster().Speedup.Rounds, Workers: r.Cluster().Workers,
		Image: r.Config.Image.SHA256, Errors: r.Standard().Errors + r.Cluster().Errors,
	}
}

func formatPct(p float64) string {
	if math.IsInf(p, 1) {
		return "+∞%"
	}
	return fmt.Sprintf("%+.1f%%", p)
}
