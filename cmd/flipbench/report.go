package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
)

type reportOptions struct {
	files  []string
	format string
	out    string
}

func newReportCmd(runF func(context.Context, *reportOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report FILE...",
		Short: "Merge load or bench JSON files into one report",
		Long: `Read JSON files written by flipbench load (--out) or flipbench bench (--out) and
print them as one report.

Load files taken at the same time on several machines against one server merge
into one summary: rounds are matched by number and their requests pooled, which is
how to drive more load than one machine can (each request keeps its offsets from its
own machine's start). Bench runs of one setup pool their rounds into one longer run.
All files must be of one kind.`,
		Example: `  $ flipbench report load-a.json load-b.json load-c.json
  $ flipbench report run1.json run2.json --format markdown
  $ flipbench report load.json --format csv > requests.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("report needs at least one file\nTry: flipbench load --out load.json, then flipbench report load.json")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.files = args
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runReport(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.Var(newEnum(&opts.format, report.FormatTable, report.LoadFormats...), "format", "output format (csv for load files only)")
	f.StringVar(&opts.out, "out", "", "also write the merged JSON to this file")
	return cmd
}

func runReport(ctx context.Context, opts *reportOptions, stdout, stderr io.Writer) error {
	if err := checkOutput("--out", opts.out, "flipbench/", false); err != nil {
		return err
	}
	var loads []*results.Summary
	var runs []*results.Run
	for _, path := range opts.files {
		b, err := os.ReadFile(path)
		if err != nil {
			return usageErrorf("%w", err)
		}
		v, err := results.Parse(b)
		if err != nil {
			return usageErrorf("%s: %w", path, err)
		}
		switch v := v.(type) {
		case *results.Summary:
			loads = append(loads, v)
		case *results.Run:
			runs = append(runs, v)
		}
	}
	if len(loads) > 0 && len(runs) > 0 {
		return usageErrorf("mixed load and bench files: report merges files of one kind")
	}
	if len(loads) > 0 {
		sum, err := results.MergeLoads(opts.files, loads)
		if err != nil {
			return &usageError{err}
		}
		if err := writeOut(opts.out, sum); err != nil {
			return err
		}
		return report.WriteLoad(stdout, sum, opts.format)
	}
	if opts.format == report.FormatCSV {
		return usageErrorf("--format csv is for load files; bench runs print as table, json or markdown")
	}
	run, err := results.MergeRuns(opts.files, runs)
	if err != nil {
		return &usageError{err}
	}
	if err := writeOut(opts.out, run); err != nil {
		return err
	}
	return report.WriteBench(stdout, run, opts.format)
}

func writeOut(path string, v any) error {
	if path == "" {
		return nil
	}
	if err := writeJSONFile(path, v); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
