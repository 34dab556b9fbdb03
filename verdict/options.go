package verdict

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/flipbench/flipbench/results"
)

// Defaults for [Options].
const (
	DefaultAlpha         = 0.05
	DefaultMaxRegression = 0.10
	DefaultConfidence    = 0.95
	// MinRounds is the fewest rounds a run needs to be compared: below
	// four a side, the Mann-Whitney U test cannot reach p <= 0.05 even for
	// samples that do not overlap at all.
	MinRounds = 4
	// bootstrapResamples is the number of resamples behind the confidence
	// interval of the ratio of means.
	bootstrapResamples = 2000
)

// DefaultGates are the metrics whose regression fails a comparison when
// no others are named: the in-run speedup (the machine's own speed
// cancels out of it) and failed requests.
var DefaultGates = []string{"speedup", "error_rate"}

// Options tune [Compare].
type Options struct {
	// Alpha is the significance level of the U test. Zero means
	// [DefaultAlpha].
	Alpha float64
	// MaxRegression is the smallest change, as a fraction (0.10 is 10%),
	// that counts as a regression, and it must hold for the whole
	// confidence interval. Zero means [DefaultMaxRegression].
	MaxRegression float64
	// Gates are metrics that fail the comparison in addition to
	// [DefaultGates], by name ("cluster.p99", "queue/2w.last"; a mode's
	// name is its first arm) or by field ("p99" gates the standard and
	// the compared arm's), as results.ParseMetric reads them.
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

func (o Options) alpha() float64         { return cmp.Or(o.Alpha, DefaultAlpha) }
func (o Options) maxRegression() float64 { return cmp.Or(o.MaxRegression, DefaultMaxRegression) }

func (o Options) gates() []string {
	gates := slices.Clone(DefaultGates)
	for _, g := range o.Gates {
		if !slices.Contains(gates, g) {
			gates = append(gates, g)
		}
	}
	return gates
}

// Validate rejects options that would turn a gate off: NaN, infinite
// or out-of-range levels.
func (o Options) Validate() error {
	switch a, m := o.Alpha, o.MaxRegression; {
	case math.IsNaN(a) || a < 0 || a >= 0.5:
		return fmt.Errorf("alpha must be above 0 and below 0.5, got %v", a)
	case math.IsNaN(m) || m < 0 || m >= 1:
		return fmt.Errorf("max regression must be a fraction above 0 and below 1, got %v", m)
	}
	for _, g := range o.gates() {
		if _, err := results.ParseMetric(g, true); err != nil {
			return fmt.Errorf("unknown gate %q (want %s)", g, results.MetricHelp())
		}
	}
	return nil
}
