package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/history/sqlstore"
	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
)

type historyCheckOptions struct {
	db, branch, minChange, format string
	gates                         []string
	limit                         int
	opt                           history.CheckOptions
}

func newHistoryCheckCmd() *cobra.Command {
	opts := &historyCheckOptions{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Find the change points of each gated metric's series; exit 1 on a regression",
		Long: `Look for change points in each gated metric's series over the history's runs (one
series for each setup and branch) by E-divisive means, the method of MongoDB's
performance CI and of Apache Otava, with a permutation test for each change
point: a series without a change is flagged at most --alpha of the time. Each
change point is named by the commit of the first run after it, with its size and
p-value.

Exit 1 when the newest level of a gated series is --min-change or more worse than
the level before a change point in its bad direction, named by that change point
(steps that each pass add up and are named where they began; a full recovery
passes, a partial one leaves the rest standing), 0 otherwise, 2 on bad input. Only
the series of the newest run's setup and branch gate; the others (an old runner's,
an abandoned branch's) are shown as advisory. A series of many runs on one kind
of runner is its own control, so check gates the time and cost figures of the
standard and the compared arm by default (the service time, or the last response,
the throughput, the CPU time and peak memory a request, the error rate), besides
the speedup; --gate adds others. A regression that lands in 3% steps over five
pull requests passes five comparisons, but not the series.`,
		Example: `  $ flipbench history check
  $ flipbench history check --branch main --format markdown >> "$GITHUB_STEP_SUMMARY"
  $ flipbench history check --gate cluster.p99 --min-change 10% --format junit > history.xml`,
		Args: rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistoryCheck(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.flags(cmd)
	cmd.Flags().Var(newEnum(&opts.format, report.FormatTable, report.CheckFormats...), "format", "output format")
	return cmd
}

// flags are check's and plot's: the history and what is checked.
func (opts *historyCheckOptions) flags(cmd *cobra.Command) {
	addDBFlag(cmd, &opts.db)
	f := cmd.Flags()
	f.StringVar(&opts.branch, "branch", "", "only this branch's runs (default: every branch, each its own series)")
	f.IntVar(&opts.limit, "limit", 0, "only the newest N runs (0: all)")
	f.StringSliceVar(&opts.gates, "gate", nil, "more metrics to check, besides the defaults (speedup, time, throughput, cpu_per_request, peak_rss, error_rate)")
	f.StringVar(&opts.minChange, "min-change", "5%", "smallest change point that fails the check (5% or 0.05)")
	f.Float64Var(&opts.opt.Detect.Alpha, "alpha", 0.05, "significance level of each change point's permutation test")
}

func runHistoryCheck(ctx context.Context, opts *historyCheckOptions, stdout io.Writer) error {
	res, err := opts.check(ctx)
	if err != nil {
		return err
	}
	if err := report.WriteCheck(stdout, res, opts.format); err != nil {
		return err
	}
	if failed := res.Failed(); len(failed) > 0 {
		return fmt.Errorf("regression in the history: %s", failed[0])
	}
	return nil
}

// check reads the history and checks it.
func (opts *historyCheckOptions) check(ctx context.Context) (*history.CheckResult, error) {
	// 199 shuffles give p-values of 1/200 at the least.
	if a := opts.opt.Detect.Alpha; !(a >= 0.005 && a < 0.5) {
		return nil, usageErrorf("--alpha must be at least 0.005 (the smallest p-value of 199 shuffles) and below 0.5, got %v", a)
	}
	if opts.limit < 0 {
		return nil, usageErrorf("--limit %d: want 0 (all) or more", opts.limit)
	}
	v, err := parseFraction("--min-change", opts.minChange)
	if err != nil {
		return nil, err
	}
	opts.opt.MinChange, opts.opt.Gates = v, opts.gates
	s, err := openHistory(ctx, opts.db, true)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	es, err := s.List(ctx, history.Query{Branch: opts.branch, Limit: opts.limit})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, usageErrorf("--db %s: no runs to check (of branch %q)", sqlstore.Redact(opts.db), opts.branch)
	}
	res, err := history.Check(es, opts.opt)
	if errors.Is(err, results.ErrUnknownMetric) {
		return nil, usageErrorf("--gate: %w", err)
	}
	return res, err
}

func newHistoryPlotCmd() *cobra.Command {
	opts := &historyCheckOptions{}
	var out string
	cmd := &cobra.Command{
		Use:   "plot FILE.html|.svg|.png",
		Short: "Draw each gated metric's series with its change points",
		Long: `Draw each gated metric's series over the history's runs (of two runs or more), one
panel each, every run named by its commit, the change points that history check
finds marked in red with their commit and size. An .html file is one page that
needs nothing else (the check's table under the figure); .svg and .png are the
figure alone.`,
		Example: "  $ flipbench history plot trend.html\n  $ flipbench history plot trend.png --branch main --gate cluster.p99",
		Args:    rangeArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out = args[0]
			format, err := report.PlotFormatOf(out)
			if err != nil {
				return usageErrorf("%w", err)
			}
			if err := checkOutput("plot", out, "", false); err != nil {
				return err
			}
			res, err := opts.check(cmd.Context())
			if err != nil {
				return err
			}
			if !res.Plottable() {
				return usageErrorf("plot: no series of two runs or more to draw (%d runs)", res.Runs)
			}
			return writeFileAtomic(out, func(w io.Writer) error { return report.WriteHistoryPlot(w, res, format) })
		},
	}
	opts.flags(cmd)
	return cmd
}
