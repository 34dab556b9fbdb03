package verdict

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/flipbench/flipbench/results"
)

// DesignCapacity is a [Comparison] of capacity runs (bench --capacity):
// of two runs, or of the head arms of one paired run with its base arms.
const DesignCapacity = "capacity"

// CapacityGates are the metrics whose regression fails a comparison of
// capacity runs: the capacity of the standard and of the compared arm.
// The capacity speedup, a ratio of two searches, is shown, advisory.
var CapacityGates = []string{"standard.capacity", "capacity"}

// CompareCapacity compares capacity runs: two (base and head), or with
// head nil the head arms of a paired one (bench --capacity --base-exe
// --head-exe) with their base arms. A search knows an arm's capacity to
// a bracket, from the highest rate that passed to the lowest that failed
// above it; head/base is bracketed by dividing the brackets' ends, and a
// capacity regresses when the whole bracket of head/base lies beyond
// MaxRegression, down. The bracket is the search's resolution, not its
// noise: a step's verdict near the knee is itself noisy, which one
// search does not measure (the arms' interleaved turns of a paired run
// put both builds under the same drift).
func CompareCapacity(base, head *results.Run, baseName, headName string, opt Options) (*Comparison, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if !base.Capacity() || (head != nil && !head.Capacity()) {
		return nil, fmt.Errorf("compare a capacity run with a capacity run (bench --capacity): %w", ErrIncomparable)
	}
	var bs, hs side
	var err error
	paired := head == nil
	if paired {
		if !base.Paired() {
			return nil, fmt.Errorf("%s: %w (bench --capacity --base-exe OLD --head-exe NEW writes one); or compare two run files, base and head", baseName, ErrNotPaired)
		}
		head, headName, baseName = base, baseName+" (head)", baseName+" (base)"
		bs, err = sideOf(base, results.Base, baseName)
		if err == nil {
			hs, err = sideOf(head, results.Head, headName)
		}
	} else {
		bs, err = sideOf(base, "", baseName)
		if err == nil {
			hs, err = sideOf(head, "", headName)
		}
	}
	if err != nil {
		return nil, err
	}
	c := newComparison(DesignCapacity, runInfo(baseName, bs), runInfo(headName, hs), opt)
	if paired {
		c.Base.Build, c.Head.Build = base.Config.Builds[0], base.Config.Builds[1]
	} else {
		if err := c.checkSearches(base, head, opt.Force); err != nil {
			return nil, err
		}
		if err := c.checkSetups(bs, hs, opt.Force); err != nil {
			return nil, err
		}
		if baseName == headName || sameRun(base, head) {
			c.Notes = append(c.Notes, "base and head are the same run: nothing can have changed")
		}
	}
	for _, r := range []struct {
		name string
		run  *results.Run
	}{{baseName, base}, {headName, head}} {
		if r.run.Interrupted {
			c.Notes = append(c.Notes, fmt.Sprintf("(!) %s was interrupted: its searches stopped before their end", r.name))
		}
		if paired {
			break
		}
	}
	if err := c.compareCapacities(bs, hs, opt); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSearches refuses, unless force, capacity runs searched at other
// SLOs or with other steps (a step's hold decides what passes); with
// force it notes each difference.
func (c *Comparison) checkSearches(base, head *results.Run, force bool) error {
	b, h := base.Config, head.Config
	diffs := map[string][2]string{}
	for what, v := range map[string][2]any{
		"SLOs": {b.SLOs, h.SLOs}, "holds": {b.HoldMs, h.HoldMs}, "fewest requests a step": {b.MinRequests, h.MinRequests},
		"kept-up bars": {b.MinKeptUp, h.MinKeptUp},
	} {
		if bs, hs := fmt.Sprint(v[0]), fmt.Sprint(v[1]); bs != hs {
			diffs[what] = [2]string{bs, hs}
		}
	}
	for _, what := range slices.Sorted(maps.Keys(diffs)) {
		d := diffs[what]
		if !force {
			return fmt.Errorf("the runs' %s differ (base %s, head %s): %w", what, d[0], d[1], ErrDifferentSetups)
		}
		c.Notes = append(c.Notes, fmt.Sprintf("(!) the runs' %s differ: base %s, head %s", what, d[0], d[1]))
	}
	return nil
}

// compareCapacities compares each capacity metric of hs's that the
// gates and the table name with its counterpart in bs.
func (c *Comparison) compareCapacities(bs, hs side, opt Options) error {
	gated, err := c.gatedMetrics(hs, opt)
	if err != nil {
		return err
	}
	for _, m := range hs.metrics(gated) {
		b, h := bs.counterpart(hs, m.Arm), hs.run.ArmIn(hs.build, m.Arm)
		if b == nil {
			return fmt.Errorf("%s: base has no arm %s: %w", m.Name, m.Arm, ErrIncomparable)
		}
		d := capacityDelta(m, bracket(bs.run, b, m), bracket(hs.run, h, m), c.MaxRegression)
		d.Gated = gated[m.Name]
		c.Deltas = append(c.Deltas, d)
	}
	c.sortRegressions()
	return nil
}

// bracket is the metric's value of arm a of r and the bracket its
// search narrowed it to: for a capacity, the highest rate that passed
// and the lowest that failed above it (+Inf when none did); a capacity
// speedup is bracketed by its arms' brackets.
func bracket(r *results.Run, a *results.Arm, m results.Metric) Stat {
	arm := capacityBracket(r, a)
	if m.Field != "capacity_speedup" || a.Capacity == nil {
		return arm
	}
	std := capacityBracket(r, r.Arm(a.Baseline))
	return Stat{Median: a.Capacity.Speedup, Lo: arm.Lo / std.Hi, Hi: arm.Hi / std.Lo, N: arm.N}
}

// capacityBracket is arm a's capacity, from the highest rate that
// passed to the lowest that failed above it, and its steps.
func capacityBracket(r *results.Run, a *results.Arm) Stat {
	s, capacity := r.SearchOf(a.Name), a.CapacityRate()
	st := Stat{Median: capacity, Lo: capacity, Hi: math.Inf(1)}
	if s == nil {
		return st
	}
	for _, step := range s.Steps {
		if !step.Repeated && !step.Passed && step.Rate > capacity {
			st.Hi = min(st.Hi, step.Rate)
		}
	}
	st.N = len(s.Steps)
	return st
}

// capacityDelta decides one capacity metric: head/base, bracketed; a
// regression (or improvement) when the bracket lies wholly below (above)
// 1, and beyond maxRegression for a regression.
func capacityDelta(m results.Metric, b, h Stat, maxRegression float64) Delta {
	d := Delta{Metric: m.Name, Unit: m.Unit, HigherIsBetter: true, Base: b, Head: h, P: math.NaN()}
	if b.Median <= 0 {
		d.ChangePct, d.RatioLo, d.RatioHi, d.Verdict = math.NaN(), math.NaN(), math.NaN(), VerdictNoChange
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: base met no rate, nothing to compare with", m.Name))
		return d
	}
	d.ChangePct = 100 * (h.Median/b.Median - 1)
	d.RatioLo, d.RatioHi = h.Lo/b.Hi, h.Hi/b.Lo
	switch {
	case d.RatioHi < 1-maxRegression:
		d.Verdict = VerdictRegression
	case d.RatioHi < 1:
		d.Verdict = VerdictSmall
	case d.RatioLo > 1:
		d.Verdict = VerdictImprovement
	default:
		d.Verdict = VerdictNoChange
	}
	return d
}
