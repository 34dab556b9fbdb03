package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/bench"
	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/queue"
	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

type benchOptions struct {
	cfg        bench.Config
	own        bench.Own
	cmds       bench.Commands
	workers    []int
	scheds     []string
	baseExe    string
	headExe    string
	baseDir    string
	headDir    string
	image      string
	quick      bool
	format     string
	out        string
	plot       string
	logFile    string
	quiet      bool
	assertions []string
	modesSet   bool
	replySet   bool
	checks     []report.Assertion
	// capacity searches each arm's capacity at search's SLOs instead of
	// bursts; searchSet and burstSet name the flags given of each kind.
	capacity            bool
	search              searchOptions
	searchSet, burstSet []string
	// coord spreads every burst (or capacity step) over agents.
	coord coordinatorOptions
}

func newBenchCmd(runF func(context.Context, *benchOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &benchOptions{}
	cmd := &cobra.Command{
		Use:     "bench",
		Short:   "Run the article's experiment: standard vs cluster, side by side",
		Long:    benchLong,
		Example: benchExample,
		Args:    rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.modesSet, opts.replySet = cmd.Flags().Changed("modes"), cmd.Flags().Changed("queue-reply")
			opts.searchSet, opts.burstSet = changedOf(cmd.Flags(), searchFlags), changedOf(cmd.Flags(), burstFlags)
			if err := opts.validate(); err != nil {
				return err
			}
			if err := opts.coord.validate(cmd.Flags().Changed); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runBench(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.flags(cmd.Flags())
	opts.coord.flags(cmd.Flags())
	return cmd
}

// flags declares bench's flags into opts.
func (opts *benchOptions) flags(f *pflag.FlagSet) {
	f.VarP(newIntAtLeast(&opts.cfg.Requests, loadgen.DefaultRequests, 1), "requests", "n", "concurrent requests in each burst")
	f.Var(newIntAtLeast(&opts.cfg.Rounds, bench.DefaultRounds, 1), "rounds", "measured bursts per side")
	f.Var(newWorkersList(&opts.workers, []int{runtime.NumCPU()}), "workers", "the cluster's worker processes; a list (1,2,4) measures each size; each at most "+server.MaxWorkersRule())
	f.Var(newIntAtLeast(&opts.own.Config.Threads, server.DefaultThreads, 0), "threads", "GOMAXPROCS and job slots per worker (0: all CPUs)")
	f.Var(newEnumList(&opts.own.Modes, bench.Modes...), "modes", "ways to serve, side by side: standard (the baseline), cluster, queue, or all (default standard,cluster)")
	f.Var(newEnum(&opts.own.QueueReply, bench.ReplyWait, bench.ReplyWait, bench.ReplyAsync), "queue-reply", "how the queue arms answer: wait (when the job is done) or async (202 at once; each job's end followed on its event stream)")
	f.StringVar(&opts.own.QueueNATS, "queue-nats", "", "the queue arm's broker: an existing NATS server or cluster (URL,URL,URL) instead of the one its front embeds")
	f.Var(newIntRange(&opts.own.QueueReplicas, 1, 1, queue.MaxReplicas), "queue-replicas", "how many servers of the --queue-nats cluster hold the queue arm's jobs (1-5)")
	f.Var(newEnumList(&opts.scheds, server.Scheds...), "sched", "the servers' dispatch policy: shared, rr, free or reuseport; a list (or all) measures each (default "+server.DefaultSched+"; see docs/dispatch.md)")
	f.StringVar(&opts.image, "image", "", "image the servers flip, or fixture:NAME (default: the embedded 20 MP photo)")
	f.BoolVar(&opts.quick, "quick", false, "flip the small embedded JPEG: a smoke run of a few seconds")
	f.DurationVar(&opts.cfg.Timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout")
	f.Var(newEnum(&opts.format, report.FormatTable, report.BenchFormats...), "format", "output format on stdout")
	f.StringVar(&opts.out, "out", "", "write the run file (every measurement, JSON) here; - for stdout")
	f.StringVar(&opts.plot, "plot", "", "also draw each mode's timeline and latencies to FILE.html, .svg or .png")
	f.StringVar(&opts.logFile, "logs", "", "write the servers' logs (JSON lines) to this file")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress on stderr")
	f.StringVar(&opts.cmds.Standard, "standard-cmd", "", "shell command that starts the single-worker server under test (with --cluster-cmd)")
	f.StringVar(&opts.cmds.Cluster, "cluster-cmd", "", "shell command that starts the clustered server under test (with --standard-cmd)")
	f.StringVar(&opts.cmds.URL, "url", "", "URL to load when the servers are commands (default "+loadgen.DefaultURL+")")
	f.StringVar(&opts.baseExe, "base-exe", "", "paired A/B bench: the base build's flipbench binary (with --head-exe; compare the run file alone)")
	f.StringVar(&opts.headExe, "head-exe", "", "paired A/B bench: the head build's flipbench binary (with --base-exe)")
	f.StringVar(&opts.baseDir, "base-dir", "", "paired A/B bench of any server: the base checkout, where --standard-cmd and --cluster-cmd run for the base build (with --head-dir)")
	f.StringVar(&opts.headDir, "head-dir", "", "paired A/B bench of any server: the head checkout (with --base-dir)")
	f.StringArrayVar(&opts.assertions, "assert", nil, "fail (exit 1) unless this holds, like 'speedup>=1.6' or 'cluster.p99<=5s' (repeatable)")
	f.BoolVar(&opts.capacity, "capacity", false, "search each arm's capacity at --slo instead of bursts: open-loop steps, the arms in turn (see docs/capacity.md)")
	opts.search.flags(f, "with --capacity, the longest the whole bench may take, every arm's search (0: no bound)")
}

// The flags of a bench of bursts, and those of a capacity search.
var (
	burstFlags  = []string{"requests", "rounds"}
	searchFlags = []string{"slo", "start", "resolution", "hold", "min-requests", "budget"}
)

// changedOf lists the flags of names that were given, as --NAME.
func changedOf(f *pflag.FlagSet, names []string) []string {
	var out []string
	for _, n := range names {
		if f.Changed(n) {
			out = append(out, "--"+n)
		}
	}
	return out
}

// validateCapacity checks that the flags given fit the kind of bench:
// a search's with --capacity, a burst's without.
func (o *benchOptions) validateCapacity() error {
	if !o.capacity {
		if len(o.searchSet) > 0 {
			return usageErrorf("%s search a capacity: add --capacity", strings.Join(o.searchSet, ", "))
		}
		return nil
	}
	if len(o.burstSet) > 0 {
		return usageErrorf("%s set the bursts of a bench; --capacity holds rates instead (--hold, --min-requests)", strings.Join(o.burstSet, ", "))
	}
	return o.search.validate("bench --capacity")
}

// validate checks what only the flags know (which flags go together)
// and builds the bench's config; the config checks itself.
func (o *benchOptions) validate() error {
	switch {
	case o.cfg.Timeout <= 0:
		return usageErrorf("--timeout must be > 0, got %s", o.cfg.Timeout)
	case o.quick && o.image != "":
		return usageErrorf("--quick and --image both choose the image: give one")
	case o.replySet && !slices.Contains(o.own.Modes, results.Queue):
		return usageErrorf("--queue-reply is for the queue arms: add queue to --modes")
	case o.own.QueueNATS != "" && !slices.Contains(o.own.Modes, results.Queue):
		return usageErrorf("--queue-nats is for the queue arm: add queue to --modes")
	case o.own.QueueReplicas > 1 && o.own.QueueNATS == "":
		return usageErrorf("--queue-replicas %d needs a NATS cluster for the queue arm: give its URLs with --queue-nats", o.own.QueueReplicas)
	}
	if err := o.validateCapacity(); err != nil {
		return err
	}
	if o.plot != "" {
		if _, err := report.PlotFormatOf(o.plot); err != nil {
			return usageErrorf("--plot: %w", err)
		}
	}
	if err := checkOutputs(
		output{"--out", o.out, kindRun, true},
		output{"--plot", o.plot, "", false},
		output{"--logs", o.logFile, "", false},
	); err != nil {
		return err
	}
	if o.out == stdoutPath && o.format == report.FormatJSON {
		return usageErrorf("--out - and --format json would both write JSON to stdout: give one")
	}
	if err := o.parseAssertions(); err != nil {
		return err
	}
	if (o.baseExe == "") != (o.headExe == "") {
		return usageErrorf("--base-exe and --head-exe go together: give both")
	}
	if (o.baseDir == "") != (o.headDir == "") {
		return usageErrorf("--base-dir and --head-dir go together: give both")
	}
	var err error
	if o.cmds.Standard != "" || o.cmds.Cluster != "" {
		err = o.validateCommands()
	} else {
		err = o.validateOwn()
	}
	if err != nil {
		return err
	}
	if err := o.cfg.Validate(); err != nil {
		return &usageError{err}
	}
	var slos []string
	if o.capacity {
		slos = results.SLONames(o.search.cfg.SLOs)
	}
	if err := report.ResolveAssertions(o.checks, o.cfg.Servers.Arms(), slos); err != nil {
		return usageErrorf("--assert: %w", err)
	}
	return nil
}

// validateCommands builds the servers of a bench of any server under
// test: its commands, run in two directories for a paired bench.
func (o *benchOptions) validateCommands() error {
	switch {
	case o.baseExe != "":
		return usageErrorf("--base-exe and --head-exe pair flipbench's own servers of two builds; for the commands' servers, --base-dir and --head-dir")
	case o.cmds.Standard == "" || o.cmds.Cluster == "":
		return usageErrorf("--standard-cmd and --cluster-cmd go together: give both")
	case o.quick || o.image != "":
		return usageErrorf("--quick and --image choose flipbench's own servers' image; the commands' servers flip their own")
	case len(o.scheds) > 0:
		return usageErrorf("--sched chooses flipbench's own servers' dispatch; the commands' servers dispatch their own way")
	case o.modesSet:
		return usageErrorf("--modes chooses flipbench's own servers; the commands' are a standard and a cluster")
	}
	o.cmds.URL = cmp.Or(o.cmds.URL, loadgen.DefaultURL)
	if err := (loadgen.Config{URL: o.cmds.URL}).Validate(); err != nil {
		return usageErrorf("--url: %w", err)
	}
	if o.baseDir != "" {
		var dirs [2]string
		for i, d := range []string{o.baseDir, o.headDir} {
			abs, err := filepath.Abs(d)
			if err != nil {
				return usageErrorf("--base-dir, --head-dir: %w", err)
			}
			dirs[i] = abs
		}
		o.cmds.Builds = []results.Build{{Name: results.Base, Dir: dirs[0]}, {Name: results.Head, Dir: dirs[1]}}
	}
	o.cmds.Workers = o.workers
	o.cfg.Servers = &o.cmds
	return nil
}

// validateOwn builds the servers of a bench of flipbench's own.
func (o *benchOptions) validateOwn() error {
	switch {
	case o.cmds.URL != "":
		return usageErrorf("--url is for servers started by --standard-cmd and --cluster-cmd; bench picks its own servers' ports")
	case o.baseDir != "":
		return usageErrorf("--base-dir and --head-dir run the commands of --standard-cmd and --cluster-cmd in two checkouts; for flipbench's own builds, --base-exe and --head-exe")
	}
	img := o.image
	if o.quick {
		img = server.FixturePrefix + fixtures.SmallJPEG
	}
	var err error
	if o.own.Config.Image, err = server.ResolveImage(img); err != nil {
		return usageErrorf("--image: %w", err)
	}
	if err := o.own.Config.CheckImage(); err != nil {
		return &usageError{err}
	}
	o.own.Workers, o.own.Scheds = o.workers, o.scheds
	if o.baseExe != "" {
		o.own.Builds = []results.Build{{Name: results.Base, Exe: o.baseExe}, {Name: results.Head, Exe: o.headExe}}
	}
	o.cfg.Servers = &o.own
	return nil
}

// describeArms names the arms a bench measures, for its first line:
// "standard (1 worker) vs cluster (2 workers)".
func describeArms(arms []results.ArmSpec) string {
	var names []string
	for _, a := range arms {
		unit := "workers"
		if a.Workers == 1 {
			unit = "worker"
		}
		names = append(names, fmt.Sprintf("%s (%d %s)", a.Name, a.Workers, unit))
	}
	// The first standard is what the clusters are compared with.
	return names[0] + " vs " + strings.Join(names[1:], ", ")
}

// describeWork says what a bench does to each arm: "6 rounds of 10
// requests", "a capacity search at p99<=3s, errors<=1%".
func describeWork(o *benchOptions) string {
	if o.capacity {
		w := "a capacity search at " + strings.Join(results.SLONames(o.search.cfg.SLOs), ", ")
		if o.search.cfg.Budget > 0 {
			w += fmt.Sprintf(" in at most %s", o.search.cfg.Budget)
		}
		return w + ", the arms taking steps in turn"
	}
	rounds := fmt.Sprintf("%d rounds", o.cfg.Rounds)
	if o.cfg.Rounds == 1 {
		rounds = "1 round"
	}
	return fmt.Sprintf("%s of %d requests", rounds, o.cfg.Requests)
}

// capacityConfig is the bench's capacity search, its steps told on
// stderr as they are judged.
func capacityConfig(opts *benchOptions, cfg bench.Config, prog *progress) bench.CapacityConfig {
	c := bench.CapacityConfig{Config: cfg, Search: opts.search.cfg}
	if !prog.tty {
		c.Progress = nil // off a terminal, a line a step is enough
	}
	if !opts.quiet {
		c.OnStep = func(arm string, st results.CapacityStep) {
			prog.println(fmt.Sprintf("%s: %s", arm, report.StepVerdict(st, opts.search.cfg.SLOs)))
		}
	}
	return c
}

func (o *benchOptions) parseAssertions() error {
	for _, s := range o.assertions {
		a, err := report.ParseAssertion(s)
		if err != nil {
			return usageErrorf("--assert: %w", err)
		}
		o.checks = append(o.checks, a)
	}
	return nil
}

func runBench(ctx context.Context, opts *benchOptions, stdout, stderr io.Writer) error {
	cfg := opts.cfg
	v := currentVersion()
	cfg.Version, cfg.Commit = v.Version, v.Commit
	if opts.logFile != "" {
		f, err := os.Create(opts.logFile)
		if err != nil {
			return usageErrorf("--logs: %w", err)
		}
		defer f.Close()
		opts.own.Logs, opts.cmds.Logs = f, f
	}
	if opts.coord.agents > 0 {
		c, err := opts.coord.start(server.NewLogger(stderr, "text"), stderr)
		if err != nil {
			return err
		}
		defer c.Close()
		cfg.Loader = loadThrough(c)
	}
	prog := newProgress(stderr, opts.quiet)
	cfg.Progress = prog.update
	if !opts.quiet {
		fmt.Fprintf(stderr, "bench: %s, %s\n", describeArms(cfg.Servers.Arms()), describeWork(opts))
	}
	start := time.Now()
	var run *results.Run
	var err error
	if opts.capacity {
		run, err = bench.Capacity(ctx, capacityConfig(opts, cfg, prog))
	} else {
		run, err = bench.Run(ctx, cfg)
	}
	prog.finish()
	if err != nil && run == nil {
		return err
	}
	tableOut, werr := writeBenchOutputs(opts, run, start, stdout, stderr)
	if werr != nil {
		return werr
	}
	checkErr := runChecks(opts, run, tableOut, stderr)
	switch {
	case run.Interrupted:
		return errInterrupted
	case err != nil:
		return err
	case checkErr != nil:
		return checkErr
	}
	if err := capacityFound(run); err != nil {
		return err
	}
	if err := run.Check(); err != nil {
		if errors.Is(err, results.ErrFailedRequests) {
			return fmt.Errorf("%w; %s", err, whereErrorsAre(opts.out))
		}
		return err
	}
	return nil
}

// capacityFound fails a capacity run in which an arm met no rate, as
// flipbench capacity does: there is no capacity to compare.
func capacityFound(run *results.Run) error {
	var none []string
	for _, a := range run.Arms {
		if run.Capacity() && a.CapacityRate() == 0 {
			none = append(none, a.Name)
		}
	}
	if len(none) > 0 {
		return fmt.Errorf("capacity: no rate met the SLOs at %s", strings.Join(none, ", "))
	}
	return nil
}

// whereErrorsAre says where each failed request's error can be read.
func whereErrorsAre(out string) string {
	switch out {
	case "":
		return "--out FILE keeps each request's error"
	case "-":
		return "each request's error is in the run file on stdout"
	}
	return "each request's error is in " + out
}

// writeBenchOutputs writes the run where the flags say: the run file
// first, as minutes of measurements must survive a closed stdout (| head),
// then the plot, then the table. A file that cannot be written (a full
// disk) does not keep the table from being printed; its error comes
// after. It returns where the table went: stdout, or stderr when stdout
// holds the run file.
func writeBenchOutputs(opts *benchOptions, run *results.Run, start time.Time, stdout, stderr io.Writer) (io.Writer, error) {
	tableOut, werr, ferr := writeResultJSON(opts.out, run, stdout, stderr)
	if ferr != nil {
		return nil, ferr
	}
	if werr == nil && opts.out != "" && opts.out != stdoutPath && !opts.quiet {
		fmt.Fprintf(stderr, "wrote %s (%s)\n", opts.out, time.Since(start).Round(time.Second))
	}
	if opts.plot != "" {
		perr := writePlot(opts.plot, func(w io.Writer, format string) error { return report.WriteBenchPlot(w, run, format) })
		if perr == nil && !opts.quiet {
			fmt.Fprintf(stderr, "drew %s\n", opts.plot)
		}
		werr = errors.Join(werr, perr)
	}
	if err := report.WriteBench(tableOut, run, opts.format); err != nil {
		return nil, errors.Join(werr, err)
	}
	return tableOut, werr
}

// runChecks prints the --assert checks of a run that finished, and
// returns the first that failed.
func runChecks(opts *benchOptions, run *results.Run, stdout, stderr io.Writer) error {
	if len(opts.checks) == 0 || run.Interrupted {
		return nil
	}
	checks := report.Check(run, opts.checks)
	// With --format json, stdout must stay one JSON document.
	out := stdout
	if opts.format == report.FormatJSON {
		out = stderr
	}
	fmt.Fprintln(out)
	if err := report.WriteChecks(out, opts.checks, checks); err != nil {
		return err
	}
	for _, r := range checks {
		if !r.Pass {
			return fmt.Errorf("assertion failed: %s", r.Assertion)
		}
	}
	return nil
}

// benchLong is bench's help; its metrics and schema come from results.
var benchLong = `Start flipbench standard (one worker) and flipbench cluster (--workers, default
one per CPU) on free loopback ports, warm each up, fire --rounds bursts of -n
concurrent POST /flip at each (interleaved standard, cluster, cluster, standard...
so that a machine getting faster or slower weighs on both alike), stop both, and
print one table: first and last response, p50, p99, throughput, and the speedup
of the cluster over the single worker (standard's last response over the
cluster's, paired by round) with its efficiency (speedup per worker). A second
table shows how the work was shared out: Jain's fairness index, the last
response against the ideal (ceil(n/workers) x the median job time), and the
wait for a worker against the job.

Several clusters in one run: --workers 1,2,3,4 measures a cluster of each size
and --sched shared,rr,free,reuseport (or all) one under each dispatch policy, in
the same interleaved schedule as standard (every arm in each round, the order
reversed every other round), each with its own speedup. With two sizes or more
above 1 it fits the Universal Scalability Law to the speedups (sigma:
contention, kappa: crosstalk, the size where the speedup peaks); --plot draws
each cluster's timeline and the scaling curve. The standard server runs the
first policy listed.

Three ways to serve: --modes standard,cluster,queue adds a flipbench queue arm
(a front that puts every request on an embedded NATS JetStream work queue, and
--workers local workers that pull jobs from it; see docs/queue.md) to the same
interleaved rounds, with its speedup over standard beside the cluster's. Its
costs show in the second table: wait is from the front accepting a job to a
worker starting it, service the rest. --queue-reply async makes the front answer
202 at once; the bench then follows each job's event stream to its end (the
last response is the last job's end, seen as it happens) and shows the accept
times apart.

A paired A/B bench: --base-exe OLD --head-exe NEW runs both builds' servers (a
standard and the clusters each) in the same interleaved rounds, so that every round
measures base and head minutes apart on the same machine; flipbench compare on
that one run file compares them round by round. Both binaries must be flipbench
builds with the launch protocol (this release or later).

On Linux it records, for every burst, the CPU time of the bench and its servers
and the CPU time the rest of the machine used; a burst during which other
processes took more than a quarter of a core marks its round disturbed, and the
table lists those rounds (an efficiency above 1, which a CPU-bound cluster
cannot reach, is flagged with "(!)").

With --out it writes every measurement to a run file (JSON, schema ` + results.RunSchema + `)
with the machine, the configuration and every request, for compare and report
(--out - writes it to stdout, and the table to stderr). Every output path is
checked before the first request, and --out never overwrites a file that is not
a run file. With no flags it flips the
embedded 20 MP photo, like the article, and takes about two minutes on 2 CPUs;
--quick flips a small image for a smoke run of a few seconds.

Any server under test: --standard-cmd and --cluster-cmd start the two servers to
compare (run with sh -c, waited for until --url answers, stopped with SIGTERM then
SIGKILL to their process group). As they serve one URL, each measured round starts
its server, warms it up, measures it and stops it, in the same interleaved order
as flipbench's own (a start and a warm-up a round more, so that a slow minute
weighs on every arm); set --workers to the cluster command's worker count for the
efficiency. A {workers} placeholder in --cluster-cmd is replaced by each size of
--workers, to get any cluster's curve. A paired A/B bench of any server: --base-dir
OLD --head-dir NEW runs the same commands in two checkouts, both builds' arms in
every round, and flipbench compare gates the run file as it does flipbench's own.

Capacity at an SLO instead of bursts: --capacity --slo 'p99<=3s' (repeatable:
any percentile, or errors<=1%, the error bound when none is given) searches the
highest rate each arm takes while it meets every SLO and answers at 97% of the
rate or more: open-loop constant-rate steps (each held --hold, at least
--min-requests), doubled from --start until one fails, bisected to --resolution,
the highest pass held again. The arms take turns, a step each, in ABBA order, each
warmed up first; a step other processes disturbed is held again; --budget bounds
the whole bench. The table gives each arm's capacity, its capacity speedup and
efficiency, the latencies and the server's CPU at capacity, and every step;
--plot draws each arm's latency against the offered rate, and with --workers
1,2,3,4 the capacity scaling curve with its USL fit; compare gates the capacities
of two capacity runs (see docs/capacity.md).

--assert 'METRIC OP VALUE' checks an absolute bound on a metric (` + results.MetricHelp() + `;
errors is a count, error_rate a percentage; times take units, like 5s): each
check is printed with PASS or FAIL.

Exit codes: 0 ok, 1 if any request failed or an --assert failed, 2 bad usage, 3
interrupted (the rounds done so far are still printed and written).`

const benchExample = `  $ flipbench bench
  $ flipbench bench --plot bench.html
  $ flipbench bench --quick
  $ flipbench bench -n 20 --rounds 9 --workers 4 --out run.json
  $ flipbench bench --quick --sched all --plot dispatch.html
  $ flipbench bench --base-exe ./flipbench-main --head-exe ./flipbench-pr --out ab.json && flipbench compare ab.json
  $ flipbench bench --workers 1,2,3,4 --plot scaling.html
  $ flipbench bench --modes standard,cluster,queue
  $ flipbench bench --quick --modes all --queue-reply async
  $ flipbench bench --image photo.jpg --format markdown >> "$GITHUB_STEP_SUMMARY"
  $ flipbench bench --assert 'speedup>=1.6' --assert 'cluster.p99<=5s'
  $ flipbench bench --capacity --slo 'p99<=3s' --image photo-2400.jpg --plot capacity.html
  $ flipbench bench --capacity --slo 'p99<=3s' --workers 1,2,3,4 --start 2 --budget 30m --out scaling.json
  $ flipbench bench --standard-cmd 'node standard.js' --cluster-cmd 'node cluster.js' \
      --url http://127.0.0.1:3000/flip --workers 8
  $ flipbench bench --standard-cmd 'node standard.js' --cluster-cmd 'node cluster.js' \
      --base-dir ../app-main --head-dir . --url http://127.0.0.1:3000/flip --out ab.json
  $ flipbench bench --standard-cmd 'gunicorn -w 1 app:app' --cluster-cmd 'gunicorn -w {workers} app:app' \
      --url http://127.0.0.1:8000/flip --workers 2,4,8`
