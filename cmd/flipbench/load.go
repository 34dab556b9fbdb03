package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/agents"
	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

type loadOptions struct {
	cfg         loadgen.Config
	rate        string
	bodyFile    string
	headers     []string
	caCert      string
	percentiles []float64
	warmup      int
	format      string
	out         string
	results     string
	plot        string
	verbose     bool
	pollSet     bool
	quiet       bool
	allowErrors bool
	// requestsSet: -n was given (command line or environment), so that
	// a -n that would be ignored is refused.
	requestsSet bool
	// coord spreads the load over agents (--agents N).
	coord coordinatorOptions
}

func newLoadCmd(runF func(context.Context, *loadOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &loadOptions{}
	cmd := &cobra.Command{
		Use:     "load",
		Short:   "Fire N concurrent requests at a server and time the responses",
		Long:    loadLong,
		Example: loadExample,
		Args:    rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.requestsSet = cmd.Flags().Changed("requests")
			opts.pollSet = cmd.Flags().Changed("poll")
			if err := opts.validate(); err != nil {
				return err
			}
			if err := opts.coord.validate(cmd.Flags().Changed); err != nil {
				return err
			}
			if opts.coord.agents > 0 && opts.results != "" {
				return usageErrorf("--results: %v", agents.ErrResultsFile)
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runLoad(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.VarP(newIntAtLeast(&opts.cfg.Requests, loadgen.DefaultRequests, 1), "requests", "n", "requests released together in each round (burst mode)")
	f.StringVar(&opts.cfg.URL, "url", loadgen.DefaultURL, "target URL")
	f.StringVar(&opts.cfg.Method, "method", loadgen.DefaultMethod, "HTTP method")
	f.Var(newIntAtLeast(&opts.cfg.Rounds, 1, 1), "rounds", "how many times to repeat the burst")
	f.DurationVar(&opts.cfg.Pause, "pause", 0, "pause between rounds")
	f.StringVar(&opts.rate, "rate", "", "constant rate instead of a burst, like 20/s (needs --duration)")
	f.VarP(newIntAtLeast(&opts.cfg.Concurrency, 0, 1), "concurrency", "c", "closed loop instead of a burst: this many clients, each sending when answered (needs --duration)")
	f.DurationVar(&opts.cfg.Duration, "duration", 0, "how long each rate or closed-loop round lasts")
	f.StringArrayVarP(&opts.headers, "header", "H", nil, "add a request header, like 'X-Token: 1' or 'Host: example.com' (repeatable)")
	f.BoolVar(&opts.cfg.KeepAlive, "keepalive", false, "reuse connections (a cluster then keeps each client on one worker)")
	f.Var(newPercentiles(&opts.percentiles, []float64{50, 90, 95, 99}), "percentiles", "latency percentiles to report, like 50,95,99.9")
	f.Var(newIntAtLeast(&opts.warmup, 0, 0), "warmup", "send this many requests together first, and leave them out of the results")
	f.Var(newEnum(&opts.cfg.Await, "", loadgen.AwaitPoll, loadgen.AwaitEvents), "await", "wait for the jobs of 202 Accepted answers (queue --reply async): poll each Location until the job ends, or =events to follow its event stream")
	f.Lookup("await").NoOptDefVal = loadgen.AwaitPoll
	f.DurationVar(&opts.cfg.PollInterval, "poll", loadgen.DefaultPollInterval, "with --await, the time between two polls of a job")
	f.BoolVar(&opts.cfg.Insecure, "insecure", false, "https: do not verify the server's certificate")
	f.StringVar(&opts.caCert, "cacert", "", "https: trust the CA certificates in this PEM file")
	f.StringVar(&opts.bodyFile, "body", "", "send this file, or fixture:NAME, as the body (default: none; the server flips its own image)")
	f.DurationVar(&opts.cfg.Timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout")
	f.Var(newEnum(&opts.format, report.FormatTable, report.LoadFormats...), "format", "output format on stdout")
	f.StringVar(&opts.out, "out", "", "also write the JSON summary to this file")
	f.StringVar(&opts.plot, "plot", "", "also draw the requests' timeline and latencies to FILE.html, .svg or .png")
	f.StringVar(&opts.results, "results", "", "also write every request in vegeta's binary format (for vegeta report and vegeta plot)")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "print each response as it arrives")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress on stderr")
	f.BoolVar(&opts.allowErrors, "allow-errors", false, "exit 0 even if requests failed")
	opts.coord.flags(f)
	return cmd
}

// readBody reads the body to send: a file, or fixture:NAME for an
// embedded image, as --image and flip take it.
func readBody(name string) ([]byte, error) {
	if fixture, ok := strings.CutPrefix(name, server.FixturePrefix); ok {
		b, err := fixtures.Bytes(fixture)
		if err != nil {
			return nil, fmt.Errorf("%w (embedded: %s)", err, strings.Join(fixtures.Names(), ", "))
		}
		return b, nil
	}
	return os.ReadFile(name)
}

// readFiles reads the files the flags name: the CA certificates and
// the body, at once, so that a missing one is bad usage.
func (o *loadOptions) readFiles() error {
	var err error
	if o.caCert != "" {
		if o.cfg.CACert, err = os.ReadFile(o.caCert); err != nil {
			return usageErrorf("--cacert: %w", err)
		}
	}
	if o.bodyFile != "" {
		if o.cfg.Body, err = readBody(o.bodyFile); err != nil {
			return usageErrorf("--body: %w", err)
		}
	}
	return nil
}

// checkIgnored refuses flags that this run would ignore.
func (o *loadOptions) checkIgnored() error {
	if o.cfg.Pause > 0 && o.cfg.Rounds == 1 {
		return usageErrorf("--pause is the pause between rounds, and one round has none: add --rounds 2 or more, or drop --pause")
	}
	if (o.cfg.Insecure || o.caCert != "") && !strings.HasPrefix(strings.ToLower(o.cfg.URL), "https://") {
		return usageErrorf("--insecure and --cacert are for https:// URLs, and %s is not one: drop them", o.cfg.URL)
	}
	return nil
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
	if o.cfg.Pause < 0 {
		return usageErrorf("--pause must be >= 0, got %s", o.cfg.Pause)
	}
	if err := o.checkIgnored(); err != nil {
		return err
	}
	switch {
	case o.rate != "" && o.cfg.Concurrency > 0:
		return usageErrorf("--rate (open loop) and -c (closed loop) are two ways to run for --duration: give one")
	case o.rate != "" || o.cfg.Concurrency > 0:
		if o.requestsSet {
			return usageErrorf("-n sets a burst's size; with --rate or -c, --duration decides how many are sent: drop -n")
		}
		o.cfg.Requests = 0
		if o.rate != "" {
			r, err := loadgen.ParseRate(o.rate)
			if err != nil {
				return usageErrorf("--rate: %w", err)
			}
			o.cfg.Rate = r
		}
		if o.cfg.Duration <= 0 {
			return usageErrorf("--rate and -c need --duration > 0 (like --duration 30s)")
		}
	case o.cfg.Duration != 0:
		return usageErrorf("--duration needs --rate or -c (a burst sends exactly -n requests)")
	}
	if o.cfg.PollInterval <= 0 {
		return usageErrorf("--poll must be > 0, got %s", o.cfg.PollInterval)
	}
	if o.cfg.Await != loadgen.AwaitPoll {
		if o.pollSet {
			return usageErrorf("--poll needs --await (polling): only polled jobs have an interval")
		}
		o.cfg.PollInterval = 0
	}
	if o.verbose && o.quiet {
		return usageErrorf("-v and --quiet: give one")
	}
	h, err := parseHeaders(o.headers)
	if err != nil {
		return usageErrorf("-H: %w", err)
	}
	o.cfg.Header = h
	if err := o.readFiles(); err != nil {
		return err
	}
	if err := checkOutputs(
		output{"--out", o.out, kindLoad, true},
		output{"--plot", o.plot, "", false},
		output{"--results", o.results, "", false},
	); err != nil {
		return err
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

// parseHeaders reads -H values, "Name: value" each, as curl and hey take
// them.
func parseHeaders(hs []string) (http.Header, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for _, kv := range hs {
		name, value, ok := strings.Cut(kv, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%q: want 'Name: value'", kv)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

func runLoad(ctx context.Context, opts *loadOptions, stdout, stderr io.Writer) error {
	cfg := opts.cfg
	cfg.WarmUp = opts.warmup
	prog := newProgress(stderr, opts.quiet)
	// -v prints each response instead of the load's progress; the
	// warm-up's, whose responses are not printed, is shown either way.
	cfg.Progress = func(p loadgen.Progress) {
		switch {
		case p.WarmUp:
			prog.update("warm-up", p)
		case !opts.verbose:
			prog.update("load", p)
		}
	}
	if opts.verbose {
		cfg.OnResult = func(r results.Record) { fmt.Fprintln(stderr, describeRecord(r)) }
	}
	var results *lazyFile
	if opts.results != "" {
		// Made when the first result comes, not before the warm-up: a
		// load that never gets to measure leaves no file behind.
		results = &lazyFile{path: opts.results}
		defer results.Close()
		cfg.Results = results
	}
	sum, err := fireLoad(ctx, opts, cfg, stderr)
	prog.finish()
	switch {
	case err != nil:
		return err
	case sum.Interrupted && len(sum.RoundStats) == 0:
		return errInterrupted // during the warm-up: nothing measured
	}
	if err := results.make(); err != nil {
		return usageErrorf("--results: %w", err)
	}
	return writeLoadOutputs(opts, sum, stdout, stderr)
}

// fireLoad fires cfg from this process, or through the agents of
// --agents.
func fireLoad(ctx context.Context, opts *loadOptions, cfg loadgen.Config, stderr io.Writer) (*results.Summary, error) {
	if opts.coord.agents == 0 {
		return loadgen.Run(ctx, cfg)
	}
	c, err := opts.coord.start(server.NewLogger(stderr, "text"), stderr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return loadThrough(c)(ctx, cfg)
}

// writeLoadOutputs writes the summary where the flags say, and returns
// the exit the summary calls for. The files go first, so the results
// survive a closed stdout; a file that cannot be written does not keep
// the summary from being shown.
func writeLoadOutputs(opts *loadOptions, sum *results.Summary, stdout, stderr io.Writer) error {
	sum.Percentiles = results.LatencyPercentiles(sum.Results, opts.percentiles)
	summaryOut, werr, err := writeResultJSON(opts.out, sum, stdout, stderr)
	if err != nil {
		return err
	}
	if opts.plot != "" {
		werr = errors.Join(werr, writePlot(opts.plot, func(w io.Writer, format string) error { return report.WriteLoadPlot(w, sum, format) }))
	}
	if err := report.WriteLoad(summaryOut, sum, opts.format); err != nil {
		return errors.Join(werr, err)
	}
	switch {
	case werr != nil:
		return werr
	case sum.Interrupted:
		return errInterrupted
	case len(sum.Incomplete) > 0:
		return fmt.Errorf("incomplete: %s", strings.Join(sum.Incomplete, "; "))
	case sum.Errors > 0 && !opts.allowErrors:
		return fmt.Errorf("%d of %d requests failed (%s)", sum.Errors, sum.Requests, results.KindCounts(sum.ErrorsByKind))
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
	case r.Canceled():
		return fmt.Sprintf("%s canceled after %s", prefix, after)
	case r.Status == 0:
		return fmt.Sprintf("%s failed (%s) after %s: %s", prefix, r.Kind, after, r.Error)
	case r.AcceptMs > 0 && r.PID != 0:
		return fmt.Sprintf("%s accepted after %s, %d from pid %d after %s", prefix, report.Duration(r.AcceptMs), r.Status, r.PID, after)
	case r.AcceptMs > 0:
		return fmt.Sprintf("%s accepted after %s, %d after %s", prefix, report.Duration(r.AcceptMs), r.Status, after)
	case r.PID != 0:
		return fmt.Sprintf("%s %d from pid %d after %s", prefix, r.Status, r.PID, after)
	}
	return fmt.Sprintf("%s %d after %s", prefix, r.Status, after)
}

const loadLong = `Fire -n requests released together, as independent clients with a connection
each (the article's script), and report when the first and the last responses
arrived, latency percentiles, throughput and how many requests each worker PID
(X-Worker-Pid) answered. With --rate and --duration it sends an open-loop
constant rate instead, so a slow server cannot slow the arrivals down.

With -c/--concurrency and --duration it runs a closed loop instead (hey's -c
with -z): that many clients, each sending its next request when its last one is
answered, for the duration.

Every request opens a connection of its own, as independent clients do, so a
cluster hands each one to a free worker; a burst opens them all before it
releases the requests, so they leave together and their latencies leave the
TCP connect out; --keepalive reuses connections, and a
cluster then keeps a client on the worker its connection went to.

A server that answers 202 Accepted with a Location (flipbench queue --reply
async) has only accepted the job: the latency is the acceptance's. With --await
each job is then polled at its Location (every --poll) until it ends, and the
summary gives both: the accept latency apart, and as the latency and the first
and last response, when the client saw each job end (up to one --poll late).
--await=events follows each job's event stream (Location/events, Server-Sent
Events) instead, and sees the end as it happens, without polling.

Failed requests (refused, reset, timed out, non-2xx) are counted by kind; the
summary is printed and then load exits 1 if any failed, unless --allow-errors.
Ctrl-C prints the partial summary and exits 3: requests cut short are counted
as canceled, not as errors, and left out of the latencies and of --results.

With --agents N the load is fired by N flipbench agent processes, on any
machines, instead of this one: it waits for them (printing the command they
run), measures their clocks against its own, splits each round between them,
has them release it at one instant, and merges what they send back into one
summary, with each agent's part beside it. A round from which an agent's part is
missing (lost, or silent past --agents-grace) is marked incomplete and load
exits 1; --results is not kept with agents.

Off a terminal (CI logs) a progress line is printed every 5 s and at the end of
each round; --quiet prints none.`

const loadExample = `  $ flipbench load -n 10
  $ flipbench load -n 10 --rounds 5 --format json --out load.json
  $ flipbench load --url http://127.0.0.1:3000/flip --body photo.jpg -v
  $ flipbench load --rate 20/s --duration 30s
  $ flipbench load -c 4 --duration 30s --percentiles 50,95,99.9
  $ flipbench load -H 'Host: flip.example' -H 'Authorization: Bearer T' --url http://127.0.0.1:8080/flip
  $ flipbench load -c 8 --duration 1m --keepalive
  $ flipbench load --url https://127.0.0.1:8443/flip --cacert ca.pem    # or --insecure
  $ flipbench load -n 10 --warmup 2 --rounds 5 --quiet
  $ flipbench load -n 100 --results results.bin && vegeta report results.bin
  $ flipbench load -n 10 --plot load.html
  $ flipbench load -n 10 --out - | jq .last_ms
  $ flipbench load -n 500 --url http://127.0.0.1:3000/flip --await    # a queue --reply async front
  $ flipbench load -n 10 --await=events --plot jobs.html
  $ flipbench load -n 3000 --agents 3 --agents-nats-addr 0.0.0.0:4223    # then flipbench agent on 3 machines`
