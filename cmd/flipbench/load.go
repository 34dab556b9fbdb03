package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
)

type loadOptions struct {
	cfg         loadgen.Config
	rate        string
	bodyFile    string
	format      string
	out         string
	results     string
	plot        string
	verbose     bool
	allowErrors bool
}

func newLoadCmd(runF func(context.Context, *loadOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &loadOptions{}
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Fire N concurrent requests at a server and time the responses",
		Long: `Fire -n requests released together, as independent clients with a connection
each (the article's script), and report when the first and the last responses
arrived, latency percentiles, throughput and how many requests each worker PID
(X-Worker-Pid) answered. With --rate and --duration it sends an open-loop
constant rate instead, so a slow server cannot slow the arrivals down.

Failed requests (refused, reset, timed out, non-2xx) are counted by kind; the
summary is printed and then load exits 1 if any failed, unless --allow-errors.
Ctrl-C prints the partial summary and exits 3.`,
		Example: `  $ flipbench load -n 10
  $ flipbench load -n 10 --rounds 5 --format json --out load.json
  $ flipbench load --url http://127.0.0.1:3000/flip --body photo.jpg -v
  $ flipbench load --rate 20/s --duration 30s
  $ flipbench load -n 100 --results results.bin && vegeta report results.bin
  $ flipbench load -n 10 --plot load.html`,
		Args: rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runLoad(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVarP(&opts.cfg.Requests, "requests", "n", loadgen.DefaultRequests, "requests released together in each round (burst mode)")
	f.StringVar(&opts.cfg.URL, "url", loadgen.DefaultURL, "target URL")
	f.StringVar(&opts.cfg.Method, "method", loadgen.DefaultMethod, "HTTP method")
	f.IntVar(&opts.cfg.Rounds, "rounds", 1, "how many times to repeat the burst")
	f.DurationVar(&opts.cfg.Pause, "pause", 0, "pause between rounds")
	f.StringVar(&opts.rate, "rate", "", "constant rate instead of a burst, like 20/s (needs --duration)")
	f.DurationVar(&opts.cfg.Duration, "duration", 0, "how long each rate-mode round lasts")
	f.StringVar(&opts.bodyFile, "body", "", "send this file as the body (default: none; the server flips its own image)")
	f.DurationVar(&opts.cfg.Timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout")
	f.Var(newEnum(&opts.format, report.FormatTable, report.LoadFormats...), "format", "output format on stdout")
	f.StringVar(&opts.out, "out", "", "also write the JSON summary to this file")
	f.StringVar(&opts.plot, "plot", "", "also draw the requests' timeline and latencies to FILE.html, .svg or .png")
	f.StringVar(&opts.results, "results", "", "also write every request in vegeta's binary format (for vegeta report and vegeta plot)")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "print each response as it arrives")
	f.BoolVar(&opts.allowErrors, "allow-errors", false, "exit 0 even if requests failed")
	return cmd
}

func (o *loadOptions) validate() error {
	if o.cfg.Requests < 1 {
		return usageErrorf("-n must be >= 1, got %d", o.cfg.Requests)
	}
	if o.cfg.Rounds < 1 {
		return usageErrorf("--rounds must be >= 1, got %d", o.cfg.Rounds)
	}
	if o.cfg.Timeout <= 0 {
		return usageErrorf("--timeout must be > 0, got %s", o.cfg.Timeout)
	}
	if o.rate != "" {
		r, err := loadgen.ParseRate(o.rate)
		if err != nil {
			return usageErrorf("--rate: %w", err)
		}
		o.cfg.Rate = r
		if o.cfg.Duration <= 0 {
			return usageErrorf("--rate needs --duration (like --duration 30s)")
		}
	} else if o.cfg.Duration != 0 {
		return usageErrorf("--duration needs --rate (a burst sends exactly -n requests)")
	}
	if o.bodyFile != "" {
		b, err := os.ReadFile(o.bodyFile)
		if err != nil {
			return usageErrorf("--body: %w", err)
		}
		o.cfg.Body = b
	}
	if o.plot != "" {
		if _, err := report.PlotFormatOf(o.plot); err != nil {
			return usageErrorf("--plot: %w", err)
		}
	}
	if err := o.cfg.Validate(); err != nil {
		return &usageError{err}
	}
	return nil
}

func runLoad(ctx context.Context, opts *loadOptions, stdout, stderr io.Writer) error {
	cfg := opts.cfg
	prog := newProgress(stderr)
	if opts.verbose {
		cfg.OnResult = func(r results.Record) { fmt.Fprintln(stderr, describeRecord(r)) }
	} else {
		cfg.Progress = func(p loadgen.Progress) { prog.update("load", p) }
	}
	if opts.results != "" {
		f, err := os.Create(opts.results)
		if err != nil {
			return usageErrorf("--results: %w", err)
		}
		defer f.Close()
		cfg.Results = f
	}
	sum, err := loadgen.Run(ctx, cfg)
	prog.finish()
	if err != nil {
		return err
	}
	if opts.out != "" { // first, so the results survive a closed stdout
		if err := writeJSONFile(opts.out, sum); err != nil {
			return err
		}
	}
	if opts.plot != "" {
		if err := writePlot(opts.plot, func(w io.Writer, format string) error { return report.WriteLoadPlot(w, sum, format) }); err != nil {
			return err
		}
	}
	if err := report.WriteLoad(stdout, sum, opts.format); err != nil {
		return err
	}
	switch {
	case sum.Interrupted:
		return errInterrupted
	case sum.Errors > 0 && !opts.allowErrors:
		return fmt.Errorf("%d of %d requests failed (%s)", sum.Errors, sum.Requests, kinds(sum.ErrorsByKind))
	}
	return nil
}

// describeRecord is the -v line for one response, as the article's script
// printed them: "#3 200 from pid 4121 after 10.2 s".
func describeRecord(r results.Record) string {
	prefix := fmt.Sprintf("#%d", r.Seq+1)
	if r.Round > 1 {
		prefix = fmt.Sprintf("round %d #%d", r.Round, r.Seq+1)
	}
	after := report.Duration(r.LatencyMs)
	switch {
	case r.Status == 0:
		return fmt.Sprintf("%s failed (%s) after %s: %s", prefix, r.Kind, after, r.Error)
	case r.PID != 0:
		return fmt.Sprintf("%s %d from pid %d after %s", prefix, r.Status, r.PID, after)
	}
	return fmt.Sprintf("%s %d after %s", prefix, r.Status, after)
}

func kinds(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
