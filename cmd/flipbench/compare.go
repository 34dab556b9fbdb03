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

	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
)

type compareOptions struct {
	base, head    string
	opt           report.CompareOptions
	maxRegression string
	gates         []string
	format        string
}

func newCompareCmd(runF func(context.Context, *compareOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare BASE.json HEAD.json",
		Short: "Compare two bench runs and give a CI verdict",
		Long: `Compare two run files written by flipbench bench, metric by metric, the way
benchstat does: each side's median and 95% confidence interval over its rounds, the
change, the Mann-Whitney U p-value, and a verdict. A metric regresses only when the
change is significant (p <= --alpha) and the whole confidence interval of head/base
lies beyond --max-regression, so that a noisy runner does not fail the build; a
change that is not significant prints "~".

Only the speedup (cluster over standard, measured within each run, so the runner's
own speed cancels out) and the error rates gate; --gate adds others
(` + results.MetricHelp() + `;
a last part like "p99" names both sides). The rest are advisory. errors is a
count and error_rate a percentage, as in bench --assert.

Exit codes: 0 no gated regression, 1 a gated regression or failed requests in head,
2 bad input (a missing or unreadable file, another schema, runs from different CPU
counts or images without --force, fewer than 4 rounds).`,
		Example: `  $ flipbench compare base.json head.json
  $ flipbench compare base.json head.json --gate cluster.p99 --max-regression 5%
  $ flipbench compare base.json head.json --format markdown >> "$GITHUB_STEP_SUMMARY"
  $ flipbench compare base.json head.json --format junit > flipbench.xml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("compare takes two run files, base and head, got %d argument(s)\nTry: flipbench bench --out base.json, change something, flipbench bench --out head.json, flipbench compare base.json head.json", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.base, opts.head = args[0], args[1]
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runCompare(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.Float64Var(&opts.opt.Alpha, "alpha", report.DefaultAlpha, "significance level of the U test")
	f.StringVar(&opts.maxRegression, "max-regression", "10%", "smallest change that counts as a regression (10% or 0.1)")
	f.StringSliceVar(&opts.gates, "gate", nil, "more metrics whose regression fails the comparison, besides speedup and error_rate")
	f.BoolVar(&opts.opt.Force, "force", false, "compare runs from different CPU counts or images")
	f.Var(newEnum(&opts.format, report.FormatTable, report.CompareFormats...).withAlias("text", report.FormatTable), "format", "output format")
	return cmd
}

func (o *compareOptions) validate() error {
	if o.opt.Alpha <= 0 || o.opt.Alpha >= 1 {
		return usageErrorf("--alpha must be between 0 and 1, got %v", o.opt.Alpha)
	}
	s := strings.TrimSpace(o.maxRegression)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if pct {
		v /= 100
	}
	if err != nil || v <= 0 || v >= 1 {
		return usageErrorf("--max-regression must be a fraction like 10%% or 0.1, got %q", o.maxRegression)
	}
	o.opt.MaxRegression = v
	o.opt.Gates = o.gates
	return nil
}

func runCompare(ctx context.Context, opts *compareOptions, stdout, stderr io.Writer) error {
	base, err := readRun(opts.base)
	if err != nil {
		return err
	}
	head, err := readRun(opts.head)
	if err != nil {
		return err
	}
	c, err := report.Compare(base, head, opts.base, opts.head, opts.opt)
	if errors.Is(err, report.ErrIncomparable) && !opts.opt.Force {
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
