package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/capacity"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
)

type capacityOptions struct {
	url, method, format string
	headers             []string
	search              searchOptions
	header              http.Header
}

// searchOptions are a capacity search's flags, of capacity and of
// bench --capacity.
type searchOptions struct {
	slos       []string
	start      float64
	resolution string
	cfg        capacity.Config
}

// flags declares the search's flags; budget says what --budget bounds.
func (o *searchOptions) flags(f *pflag.FlagSet, budget string) {
	f.StringArrayVar(&o.slos, "slo", nil, "an objective every step must meet: p99<=2s, p50<=500ms, errors<=1% (repeatable; one is required)")
	f.Float64Var(&o.start, "start", 1, "the first rate, requests a second")
	f.StringVar(&o.resolution, "resolution", "5%", "how close the highest pass and the lowest failure get (5% or 0.05)")
	f.DurationVar(&o.cfg.Hold, "hold", 5*time.Second, "how long each step holds its rate, at least")
	f.IntVar(&o.cfg.MinRequests, "min-requests", 50, "the fewest requests a step sends (a slow rate is held longer)")
	f.DurationVar(&o.cfg.Budget, "budget", 0, budget)
}

// validate reads the flags into cfg: the SLOs (with the 1% error bound
// when none bounds errors), the first rate, the resolution.
func (o *searchOptions) validate(cmd string) error {
	if len(o.slos) == 0 {
		return usageErrorf("%s needs at least one --slo, like --slo 'p99<=2s'", cmd)
	}
	slos, err := results.ParseSLOs(o.slos)
	if err != nil {
		return usageErrorf("--slo: %w", err)
	}
	if !(o.start >= 0.01 && o.start < 1e5) {
		return usageErrorf("--start must be from 0.01 to 100000 requests a second, got %v", o.start)
	}
	res, err := parseFraction("--resolution", o.resolution)
	if err != nil {
		return err
	}
	switch {
	case o.cfg.Hold <= 0:
		return usageErrorf("--hold must be above 0, got %s", o.cfg.Hold)
	case o.cfg.MinRequests < 1:
		return usageErrorf("--min-requests must be 1 or more, got %d", o.cfg.MinRequests)
	case o.cfg.Budget < 0:
		return usageErrorf("--budget must be 0 (no bound) or more, got %s", o.cfg.Budget)
	}
	o.cfg.SLOs, o.cfg.Start, o.cfg.Resolution = slos, o.start, res
	return nil
}

func newCapacityCmd() *cobra.Command {
	opts := &capacityOptions{}
	cmd := &cobra.Command{
		Use:   "capacity --slo 'p99<=2s'",
		Short: "Find how many requests a second a server takes at an SLO",
		Long: `Find the highest rate a server takes while it meets every SLO: open-loop
constant-rate steps (arrivals follow the clock, so a slow server cannot hide its
queue), each held --hold and at least --min-requests, raised from --start by
doubling until one fails, then bisected until the highest pass and the lowest
failure are within --resolution; the highest pass is held once more to confirm
it. An SLO is a latency percentile (p99<=2s, p50<=500ms) or an error rate
(errors<=1%, the default bound when none is given); a step fails on the first it
misses. --budget bounds the whole search. Exit 1 when no rate met the SLOs.`,
		Example: `  $ flipbench capacity --slo 'p99<=2s'                    # flipbench standard on :3000
  $ flipbench capacity --url http://127.0.0.1:3000/flip --slo 'p99<=3s' --slo 'p50<=1s' --budget 10m
  $ flipbench capacity --slo 'p99<=100ms' --hold 2s --start 20 --format json`,
		Args: rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return runCapacity(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.url, "url", loadgen.DefaultURL, "URL to load")
	f.StringVar(&opts.method, "method", loadgen.DefaultMethod, "HTTP method")
	f.StringArrayVarP(&opts.headers, "header", "H", nil, "a header, 'Name: value' (repeatable)")
	opts.search.flags(f, "the longest the search may take (0: no bound)")
	f.Var(newEnum(&opts.format, report.FormatTable, report.CapacityFormats...), "format", "output format")
	return cmd
}

func (o *capacityOptions) validate() error {
	if err := o.search.validate("capacity"); err != nil {
		return err
	}
	var err error
	o.header, err = parseHeaders(o.headers)
	return err
}

func runCapacity(ctx context.Context, opts *capacityOptions, stdout io.Writer) error {
	cfg := opts.search.cfg
	cfg.Measure = func(ctx context.Context, rate float64, d time.Duration) (capacity.Step, error) {
		sum, err := loadgen.Run(ctx, loadgen.Config{URL: opts.url, Method: opts.method, Header: opts.header, Rate: loadgen.RateOf(rate), Duration: d})
		switch {
		case err != nil:
			return capacity.Step{}, err
		case sum.Interrupted:
			// Cut short (Ctrl-C, or the search's budget): its slowest
			// requests were cancelled, and it must not be judged.
			return capacity.Step{}, context.Canceled
		}
		return capacity.Step{Results: sum.Results}, nil
	}
	res, err := capacity.Search(ctx, cfg)
	if errors.Is(err, context.Canceled) {
		report.WriteCapacity(stdout, opts.url, cfg.SLOs, res, opts.format)
		return errInterrupted
	}
	if err != nil {
		return fmt.Errorf("capacity: %w", err)
	}
	if err := report.WriteCapacity(stdout, opts.url, cfg.SLOs, res, opts.format); err != nil {
		return err
	}
	if res.Capacity == 0 {
		return errors.New("capacity: no rate met the SLOs")
	}
	return nil
}
