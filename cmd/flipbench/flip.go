package main

import (
	"context"
	"fmt"
	"io"
	"os"
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
	f.IntVar(&opts.repeat, "repeat", 1, "run the job this many times")
	f.IntVar(&opts.threads, "threads", server.DefaultThreads, "GOMAXPROCS while flipping (0: all CPUs)")
	f.IntVar(&opts.quality, "quality", server.DefaultQuality, "JPEG quality of the flipped image (1-100)")
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
	r, err := o.open()
	if err != nil {
		return &usageError{err}
	}
	r.Close()
	return nil
}

// open opens IN, a file or an embedded fixture.
func (o *flipOptions) open() (io.ReadCloser, error) {
	if name, ok := strings.CutPrefix(o.in, server.FixturePrefix); ok {
		return fixtures.Open(name)
	}
	return os.Open(o.in)
}

func runFlip(ctx context.Context, opts *flipOptions, stdout, stderr io.Writer) error {
	if opts.threads > 0 {
		// Time the job as a default worker runs it, not spread over every
		// core by imaging's internal parallelism.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(opts.threads))
	}
	dir, err := os.MkdirTemp("", "flipbench-flip-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	flipper := &server.Flipper{Dir: dir, Quality: opts.quality}

	names := []string{"copy", "decode", "flip", "encode+save", "total"}
	steps := make([]report.Step, len(names))
	for i, n := range names {
		steps[i].Name = n
	}
	var last server.Result
	for i := range opts.repeat {
		in, err := opts.open()
		if err != nil {
			return err
		}
		job := server.Job{Source: in}
		var out *os.File
		if opts.out != "" && i == opts.repeat-1 {
			if out, err = os.Create(opts.out); err != nil {
				in.Close()
				return err
			}
			job.Output = out
		}
		res, err := flipper.Run(ctx, job)
		in.Close()
		if out != nil {
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(opts.out)
			}
		}
		if err != nil {
			return fmt.Errorf("flip %s: %w", opts.in, err)
		}
		last = res
		for j, v := range []float64{res.CopyMs, res.DecodeMs, res.FlipMs, res.EncodeMs, res.TotalMs} {
			steps[j].Samples = append(steps[j].Samples, v)
		}
	}
	fmt.Fprintf(stderr, "flipped %s: %s %dx%d, %d -> %d bytes, GOMAXPROCS %d, %d run(s)\n",
		filepath.Base(opts.in), last.Format, last.Width, last.Height, last.InputBytes, last.OutputBytes,
		runtime.GOMAXPROCS(0), opts.repeat)
	if opts.out != "" {
		fmt.Fprintf(stderr, "wrote %s\n", opts.out)
	}
	sum := report.SummarizeSteps(steps)
	if opts.format == "json" {
		return report.WriteStepsJSON(stdout, sum)
	}
	return report.WriteStepsTable(stdout, sum)
}
