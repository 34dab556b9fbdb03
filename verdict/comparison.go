package verdict

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/flipbench/flipbench/results"
)

// CompareSchema names the JSON layout of a [Comparison].
const CompareSchema = "flipbench/compare/v1"

// Verdicts of a [Delta].
const (
	VerdictRegression  = "regression"
	VerdictImprovement = "improvement"
	// VerdictSmall is a significant change whose confidence interval does
	// not lie wholly beyond the threshold: it passes, with a note.
	VerdictSmall = "within threshold"
	// VerdictUnconfirmed is a gated metric of a paired comparison that
	// regressed on its own test but not on the gates' joint test (see
	// familyTest): it passes, with a warning. Calling it "within
	// threshold" would contradict its own interval, which lies beyond.
	VerdictUnconfirmed = "not confirmed"
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
	// P is the rank test's one-sided p-value in the direction the metric
	// moved: the Mann-Whitney U test's for two runs, the Wilcoxon
	// signed-rank test's for a paired run (see [Comparison.Design]).
	P float64 `json:"p"`
	// ChangePct and the ratio are one estimate of head/base: for positive
	// values the Hodges-Lehmann ratio (the median of every head/base
	// pair, or of the paired rounds' Walsh averages); for counts that may
	// be zero the ratio of means. RatioLo and RatioHi are one-sided
	// (1-alpha) bounds of it: with the default alpha, a 90% interval
	// whose ends are each 95% bounds, for a regression lies on one side.
	RatioLo float64 `json:"ratio_lo"`
	// PFamily is, for a gate of a paired comparison decided with the
	// others, its adjusted p-value of being worse than the threshold (see
	// Comparison.Notes); nil otherwise.
	PFamily *float64 `json:"p_family,omitempty"`
	RatioHi float64  `json:"ratio_hi"`
	Verdict string   `json:"verdict"`
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
	// SLOs are a capacity run's (bench --capacity), which has no rounds.
	SLOs []string `json:"slos,omitempty"`
}

// Comparison is the result of [Compare].
type Comparison struct {
	Schema string `json:"schema"`
	// Design is DesignTwoRuns, DesignPaired or DesignCapacity.
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
	// Advisory lists the regressions of metrics that do not gate: real
	// changes, shown, that do not fail the comparison.
	Advisory []string `json:"advisory,omitempty"`
}

// Passed reports whether nothing gated regressed and head had no failed
// requests.
func (c *Comparison) Passed() bool { return len(c.Failed) == 0 }

// Regression says how d regressed, without a sign to decode: "speedup
// fell by 44.2%", "cluster.p99 rose by 78.7%".
func (d Delta) Regression() string {
	dir := "rose"
	if math.IsInf(d.ChangePct, 1) {
		return d.Metric + " rose from zero"
	}
	if d.ChangePct < 0 {
		dir = "fell"
	}
	pct := strings.TrimPrefix(strings.TrimPrefix(FormatPct(d.ChangePct), "+"), "-")
	return fmt.Sprintf("%s %s by %s", d.Metric, dir, pct)
}

// FormatPct formats a change in percent with its sign, "+3.7%"; "+∞%"
// for a change from zero.
func FormatPct(p float64) string {
	if math.IsInf(p, 1) {
		return "+∞%"
	}
	return fmt.Sprintf("%+.1f%%", p)
}
