package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/server"
)

type flipOptions struct {
	in      string
	out     string
	repeat  int
	threads int
	quality int
	format  string
	open    func() (io.ReadCloser, error) // IN, a file or a fixture
}

func newFlipCmd(runF func(context.Context, *flipOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &flipOptions{}
	cmd := &cobra.Command{
		Use:   "flip IN [OUT]",
		Short: "Run the server's flip job once on a file and time each step",
		Long: `Run the job a POST /flip runs, with the same code, on the image IN: copy it into
a temporary directory, decode it, flip it vertically, encode it in the same
format, save it, and delete both files. With OUT, the flipped image is also
written there. With --repeat N it runs N times and prints the median, min and
max of each step.

IN may be fixture:NAME for an embedded image (` + strings.Join(fixtures.Names(), ", ") + `).
Like a worker, it runs with GOMAXPROCS = --threads (default 1).`,
		Example: `  $ flipbench flip photo.jpg flipped.jpg
  $ flipbench flip fixture:photo.jpg --repeat 5
  $ flipbench flip photo.png --format json`,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.in = args[0]
			if len(args) == 2 {
				opts.out = args[1]
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runFlip(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.Var(newIntAtLeast(&opts.repeat, 1, 1), "repeat", "run the job this many times")
	f.Var(newIntAtLeast(&opts.threads, server.DefaultThreads, 0), "threads", "GOMAXPROCS while flipping (0: all CPUs)")
	f.Var(newIntRange(&opts.quality, server.DefaultQuality, 1, 100), "quality", "JPEG quality of the flipped image (1-100)")
	f.Var(newEnum(&opts.format, "table", "table", "json"), "format", "output format")
	return cmd
}

func (o *flipOptions) validate() error {
	if o.repeat < 1 {
		return usageErrorf("--repeat must be >= 1, got %d", o.repeat)
	}
	if o.threads < 0 {
		return usageErrorf("--threads must be >= 0, got %d", o.threads)
	}
	if o.quality < 1 || o.quality > 100 {
		return usageErrorf("--quality must be between 1 and 100, got %d", o.quality)
	}
	var err error
	if o.open, err = server.ImageOpener(o.in); err != nil {
		return &usageError{err}
	}
	return checkOutput("OUT", o.out, "", false)
}

func runFlip(ctx context.Context, opts *flipOptions, stdout, stderr io.Writer) error {
	if opts.threads > 0 {
		// Time the job as a default worker runs it, not spread over every
		// core by imaging's internal parallelism.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(opts.threads))
	}
	cfg := server.FlipFileConfig{Open: opts.open, Runs: opts.repeat, Quality: opts.quality}
	var results []server.Result
	var err error
	if opts.out == "" {
		results, err = server.FlipFile(ctx, cfg)
	} else {
		// Through a temporary file: a failed or interrupted run leaves
		// whatever OUT was.
		var flipErr error
		werr := writeFileAtomic(opts.out, func(w io.Writer) error {
			cfg.Output = w
			results, flipErr = server.FlipFile(ctx, cfg)
			return flipErr
		})
		err = cmp.Or(flipErr, werr) // the job's own error, unprefixed, first
	}
	interrupted := ctx.Err() != nil
	switch {
	case server.IsBadInput(err):
		return usageErrorf("%s: %w", opts.in, err)
	case err != nil && !interrupted:
		return fmt.Errorf("flip %s: %w", opts.in, err)
	case len(results) == 0:
		return errInterrupted
	}
	last := results[len(results)-1]
	fmt.Fprintf(stderr, "flipped %s: %s %dx%d, %d -> %d bytes, GOMAXPROCS %d, %d run(s)\n",
		filepath.Base(opts.in), last.Format, last.Width, last.Height, last.InputBytes, last.OutputBytes,
		runtime.GOMAXPROCS(0), len(results))
	if opts.out != "" && !interrupted {
		fmt.Fprintf(stderr, "wrote %s\n", opts.out)
	}
	steps := []report.Step{{Name: "copy"}, {Name: "decode"}, {Name: "flip"}, {Name: "encode+save"}, {Name: "total"}}
	for _, r := range results {
		for j, v := range []float64{r.CopyMs, r.DecodeMs, r.FlipMs, r.EncodeMs, r.TotalMs} {
			steps[j].Samples = append(steps[j].Samples, v)
		}
	}
	sum := report.SummarizeSteps(steps)
	if opts.format == "json" {
		err = report.WriteStepsJSON(stdout, sum)
	} else {
		err = report.WriteStepsTable(stdout, sum)
	}
	if err != nil {
		return err
	}
	if interrupted {
		return errInterrupted
	}
	return nil
}
