package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/verdict"
)

type compareOptions struct {
	base, head    string // head is empty for a paired run
	opt           verdict.Options
	maxRegression string
	gates         []string
	advisory      []string
	format        string
}

func newCompareCmd(runF func(context.Context, *compareOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare PAIRED.json | BASE.json HEAD.json",
		Short: "Compare two builds' bench runs and give a CI verdict",
		Long:  compareLong(),
		Example: `  $ flipbench bench --base-exe ./flipbench-main --head-exe ./flipbench-pr --out ab.json
  $ flipbench compare ab.json
  $ flipbench compare ab.json --advisory peak_rss
  $ flipbench compare base.json head.json
  $ flipbench compare base.json head.json --gate cluster.p99 --max-regression 5%
  $ flipbench compare base.json head.json --format markdown >> "$GITHUB_STEP_SUMMARY"
  $ flipbench compare base.json head.json --format junit > flipbench.xml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageErrorf("compare takes a paired run file, or two run files (base and head), got %d argument(s)\nTry: flipbench bench --base-exe OLD --head-exe NEW --out ab.json, then flipbench compare ab.json", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.base = args[0]
			if len(args) == 2 {
				opts.head = args[1]
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runCompare(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.flags(cmd.Flags())
	return cmd
}

func (opts *compareOptions) flags(f *pflag.FlagSet) {
	f.Float64Var(&opts.opt.Alpha, "alpha", verdict.DefaultAlpha, "significance level of the tests")
	f.StringVar(&opts.maxRegression, "max-regression", "10%", "smallest change that counts as a regression (10% or 0.1)")
	f.StringSliceVar(&opts.gates, "gate", nil, "more metrics whose regression fails the comparison, besides the defaults (two runs: speedup, error_rate; paired: also time, throughput, cpu_per_request, peak_rss)")
	f.StringSliceVar(&opts.advisory, "advisory", nil, "default gates that only advise, like peak_rss or cluster.throughput")
	f.BoolVar(&opts.opt.Force, "force", false, "compare runs of different setups (CPUs, image, policy, workers, -n, threads)")
	f.BoolVar(&opts.opt.DropDisturbed, "drop-disturbed", false, "leave out the rounds in which other processes took more than a quarter of a core")
	f.Var(newEnum(&opts.format, report.FormatTable, report.CompareFormats...).withAlias("text", report.FormatTable), "format", "output format")
}

// compareLong is compare's help text.
func compareLong() string {
	return `Compare the base and head builds of a paired bench (one run file of bench
--base-exe OLD --head-exe NEW, or of any server's commands with --base-dir OLD
--head-dir NEW), or two run files written by flipbench bench, metric by metric,
the way benchstat does: each side's median and 95% confidence interval over its
rounds, the change head/base, its p-value and a verdict.

Paired (one file, the better design): every round measured both builds minutes
apart, so the machine's drift between runs cancels out of each round's ratio
head/base. The change is the Hodges-Lehmann estimate of those ratios and its
bounds invert the Wilcoxon signed-rank test; it needs 5 rounds or more.

Two runs (two files): the rounds are independent samples; the change is the
Hodges-Lehmann ratio of every head/base pair and its bounds invert the
Mann-Whitney U test; it needs 4 rounds a side. Drift between the two runs is not
seen by any interval: prefer the paired form in CI.

Either way the bounds hold at any round count whatever the noise's distribution
(each end a one-sided 1-alpha bound), and the printed change is the estimate they
bound. A metric regresses only when the change is significant (p <= --alpha) and
its bound lies beyond --max-regression, so that a noisy runner does not fail the
build; a change that is not significant prints "~".

What gates. A paired run gates the cost of a request by default: the speedup (the
first cluster over standard, or the first queue in a run without a cluster), the
error rates, and of the standard and the compared arm the time of a request (the
service time the server reports, the least noisy figure measured; the last
response where it reports none), the throughput, the CPU time a request and the
peak memory. In each round base and head ran minutes apart on one machine, so its
speed cancels out of head/base. These gates are decided together, against the
threshold, by one test over the rounds' sign flips: the chance of a false alarm is
at most --alpha for the whole comparison, however many gates. Two runs gate only
the speedup and the error rates: the runner's speed may differ between them, which
no interval sees, so their absolute figures are advisory. --gate adds gates
(` + results.MetricHelp() + `;
a field alone like "p99" names the standard arm's and the compared arm's);
--advisory makes a default gate advise only (--advisory peak_rss). A regression
that does not gate is shown as advisory. errors is a count and error_rate a
percentage, as in bench --assert.

Exit codes: 0 no gated regression, 1 a gated regression or failed requests in head
(however few rounds it finished), 2 bad input (a missing or unreadable file, another
schema, a file whose stored figures disagree with its requests, runs of different
CPU counts, images, dispatch policies, cluster sizes, -n or threads without --force,
too few rounds).`
}

func (o *compareOptions) validate() error {
	// NaN compares false with everything: it must be refused by name, or
	// it passes every range check and turns the gate off.
	if a := o.opt.Alpha; !(a > 0 && a < 0.5) {
		return usageErrorf("--alpha must be above 0 and below 0.5, got %v", a)
	}
	v, err := parseFraction("--max-regression", o.maxRegression)
	if err != nil {
		return err
	}
	o.opt.MaxRegression = v
	o.opt.Gates, o.opt.Advisory = o.gates, o.advisory
	if err := o.opt.Validate(); err != nil {
		return usageErrorf("%w", err)
	}
	return nil
}

func runCompare(ctx context.Context, opts *compareOptions, stdout, stderr io.Writer) error {
	base, err := readRun(opts.base)
	if err != nil {
		return err
	}
	var head *results.Run
	if opts.head != "" {
		if head, err = readRun(opts.head); err != nil {
			return err
		}
	}
	var c *verdict.Comparison
	switch {
	case base.Capacity() || (head != nil && head.Capacity()):
		c, err = verdict.CompareCapacity(base, head, opts.base, opts.head, opts.opt)
	case head == nil:
		c, err = verdict.ComparePaired(base, opts.base, opts.opt)
	default:
		c, err = verdict.Compare(base, head, opts.base, opts.head, opts.opt)
	}
	if errors.Is(err, verdict.ErrDifferentSetups) && !opts.opt.Force {
		return usageErrorf("%w (--force compares them anyway)", err)
	}
	if err != nil {
		// Incomparable runs, too few rounds, an unknown gate: all bad input.
		return &usageError{err}
	}
	if err := report.WriteCompare(stdout, c, opts.format); err != nil {
		return err
	}
	if !c.Passed() {
		return fmt.Errorf("regression: %s", strings.Join(c.Failed, "; "))
	}
	return nil
}

// readRun reads a run file; every failure is bad input (exit 2).
func readRun(path string) (*results.Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("%w", err)
	}
	run, err := results.ParseRun(b)
	if err != nil {
		return nil, usageErrorf("%s: %w", path, err)
	}
	return run, nil
}

// parseFraction reads a flag's fraction, as 10% or 0.1: above 0, below 1.
func parseFraction(flag, value string) (float64, error) {
	s := strings.TrimSpace(value)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if pct {
		v /= 100
	}
	if err != nil || !(v > 0 && v < 1) {
		return 0, usageErrorf("%s must be a fraction above 0 and below 1, like 10%% or 0.1, got %q", flag, value)
	}
	return v, nil
}
