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

// DefaultGates are the metrics whose regression fails a comparison of
// two runs when no others are named: the in-run speedup (the machine's
// own speed cancels out of it) and failed requests. Two runs minutes or
// days apart share no rounds: a runner's own speed may differ between
// them, which no interval over their rounds sees, so their absolute
// figures stay advisory.
var DefaultGates = []string{"speedup", "error_rate"}

// TimeGate stands, among [PairedGates], for the time of a request of the
// standard and the compared arm: the service time their servers report
// (X-Response-Time), the least noisy of the time figures in real paired
// runs (the standard deviation of a round's log head/base, 36 rounds of a
// 2400x1600 image on 2 CPUs: service 0.036 and 0.027, last response 0.035
// and 0.044, p50 0.038 and 0.044, standard and cluster), or the last
// response where a server reports no service time.
const TimeGate = "time"

// PairedGates are the gates of a paired comparison when no others are
// named: in each round base and head ran minutes apart on the same
// machine, so its speed cancels out of head/base, and the cost of a
// request gates too: its time, the throughput, the CPU time a request
// and the peak memory of the standard and the compared arm, besides the
// speedup and the error rates. They are decided together, so that more
// gates do not mean more false alarms (see familyTest).
var PairedGates = []string{"speedup", "error_rate", TimeGate, "throughput", "cpu_per_request", "peak_rss"}

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
	// [DefaultGates] or, paired, [PairedGates], by name ("cluster.p99",
	// "queue/2w.last"; a mode's name is its first arm) or by field ("p99"
	// gates the standard and the compared arm's), as results.ParseMetric
	// reads them.
	Gates []string
	// Advisory are default gates that only advise, named as Gates are
	// ("peak_rss", "cluster.throughput"): they are compared and shown, and
	// never fail the comparison.
	Advisory []string
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

// gates are the gates of a comparison of design: the defaults, then the
// ones asked for.
func (o Options) gates(design string) []string {
	gates := slices.Clone(DefaultGates)
	switch design {
	case DesignPaired:
		gates = slices.Clone(PairedGates)
	case DesignCapacity:
		gates = slices.Clone(CapacityGates)
	}
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
	for _, g := range append(o.gates(DesignPaired), o.Advisory...) {
		if _, err := results.ParseMetric(g, true); err != nil && g != TimeGate {
			return fmt.Errorf("unknown gate %q (want %s, or time)", g, results.MetricHelp())
		}
	}
	return nil
}
