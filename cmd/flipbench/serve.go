package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

// defaultAddr is where standard and cluster listen, and where load's
// default URL points.
const defaultAddr = "127.0.0.1:3000"

// serveOptions are the flags of `standard` and `cluster`.
type serveOptions struct {
	mode      string
	addr      string
	workers   int
	image     string
	threads   int
	quality   int
	tmpDir    string
	maxBody   int64
	maxPixels int
	grace     time.Duration
	logFormat string
	sched     string
	queue     int
	queueSet  bool // --queue was given: refused where no request waits
	readTO    time.Duration
}

func newServeCmd(mode string, runF func(context.Context, *serveOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &serveOptions{mode: mode}
	cmd := &cobra.Command{
		Use:  mode,
		Args: rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.queueSet = cmd.Flags().Changed("queue")
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runServe(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	if mode == results.Standard {
		cmd.Short = "Run the flip server as one supervised worker"
		cmd.Long = `Run the flip server as one worker process, restarted if it dies: the article's
standard.js kept alive by forever.

Endpoints: GET / (the worker's PID), GET /healthz (JSON), POST /flip (flips the
request body, or --image, or the embedded 6.6 MB photo). Every response has
X-Response-Time and X-Worker-Pid headers. Once bound it prints
"listening on http://HOST:PORT" on stdout; logs go to stderr.`
		cmd.Example = `  $ flipbench standard
  $ flipbench standard --addr 127.0.0.1:0 --image photo.jpg
  $ curl -X POST http://127.0.0.1:3000/flip`
	} else {
		cmd.Short = "Run the flip server as a cluster of supervised workers"
		cmd.Long = `Run the flip server as --workers worker processes (default: one per CPU) on one
listening socket, restarting any that dies: the article's cluster.js.

--sched picks who takes the next request:
  free       (default) the supervisor accepts, reads each request head under a
             deadline, answers /healthz and /metrics itself, and hands the
             request to a worker with a free job slot, first come first served;
             idle and slow clients never hold a worker
  shared     every worker accepts from the one socket when it has a free slot
  rr         the supervisor hands each connection to the next worker in turn,
             busy or not (Node.js cluster's default)
  reuseport  a socket per worker on the same port, hashed by the kernel (Linux)
Under rr and free at most --queue requests wait; past it the answer is 503
with Retry-After, and each response says in X-Queue-Time how long it waited.

SIGTERM or Ctrl-C stops the workers gracefully (in-flight jobs get --grace to
finish, waiting requests get 503); a second Ctrl-C exits at once. SIGHUP restarts
the workers one at a time, each new one ready before the old one drains.`
		cmd.Example = `  $ flipbench cluster
  $ flipbench cluster --workers 4 --addr 127.0.0.1:0
  $ flipbench cluster --sched rr --queue 50
  $ curl http://127.0.0.1:3000/metrics
  $ FLIPBENCH_CLUSTER_LOG_FORMAT=json flipbench cluster`
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", defaultAddr, "address to listen on (port 0 picks a free port)")
	if mode == results.Cluster {
		f.Var(newWorkers(&opts.workers, runtime.NumCPU(), 1), "workers", "number of worker processes, at most "+server.MaxWorkersRule())
	} else {
		opts.workers = 1
	}
	f.StringVar(&opts.image, "image", "", "image to flip when a request has no body, or fixture:NAME (default: the embedded 20 MP photo)")
	f.Var(newIntAtLeast(&opts.threads, server.DefaultThreads, 0), "threads", "GOMAXPROCS and job slots per worker (0: all CPUs)")
	f.Var(newIntRange(&opts.quality, server.DefaultQuality, 1, 100), "quality", "JPEG quality of the flipped image (1-100)")
	f.StringVar(&opts.tmpDir, "tmp-dir", "", "directory for job files (default: the OS temp dir)")
	f.Var(newByteSize(&opts.maxBody, server.DefaultMaxBody), "max-body", "largest request body accepted")
	f.Var(newIntAtLeast(&opts.maxPixels, server.DefaultMaxPixels, 1), "max-pixels", "largest image accepted, in pixels")
	f.DurationVar(&opts.grace, "grace", server.DefaultGrace, "time in-flight jobs get to finish after SIGTERM")
	f.DurationVar(&opts.readTO, "read-timeout", server.DefaultReadTimeout, "longest a request may take to arrive, body included; a slower one gets 408")
	f.Var(newEnum(&opts.logFormat, "text", "text", "json"), "log-format", "log format")
	f.Var(newEnum(&opts.sched, server.DefaultSched, server.Scheds...), "sched", "who takes the next request: shared, rr, free or reuseport (see docs/dispatch.md)")
	f.Var(newIntAtLeast(&opts.queue, server.DefaultQueue, 1), "queue", "requests that may wait for a worker under rr and free; past it 503 with Retry-After")
	return cmd
}

// checkAddr checks a HOST:PORT to listen on, its port a number from 0
// to 65535 or a service name, so that every bad address is bad usage (a
// port of 99999 used to pass here and fail to listen, exit 1).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return err
	}
	return nil
}

func (o *serveOptions) validate() error {
	if err := checkAddr(o.addr); err != nil {
		return usageErrorf("--addr: %w", err)
	}
	if o.queueSet && (o.sched == "shared" || o.sched == "reuseport") {
		return usageErrorf("--queue bounds the requests the supervisor holds under --sched rr and free; under %s the kernel queues them: drop --queue", o.sched)
	}
	if o.grace <= 0 {
		return usageErrorf("--grace must be > 0, got %s", o.grace)
	}
	if o.readTO <= 0 {
		return usageErrorf("--read-timeout must be > 0, got %s", o.readTO)
	}
	var err error
	if o.image, err = server.ResolveImage(o.image); err != nil { // workers must find it whatever their directory
		return usageErrorf("--image: %w", err)
	}
	if err := o.config().Validate(); err != nil {
		return &usageError{err}
	}
	if err := o.config().CheckImage(); err != nil {
		return &usageError{err}
	}
	return nil
}

func (o *serveOptions) config() server.Config {
	return server.Config{
		Image:       o.image,
		Threads:     o.threads,
		Quality:     o.quality,
		TmpDir:      o.tmpDir,
		MaxBody:     o.maxBody,
		MaxPixels:   o.maxPixels,
		ReadTimeout: o.readTO,
		LogFormat:   o.logFormat,
	}
}

func runServe(ctx context.Context, opts *serveOptions, stdout, stderr io.Writer) error {
	ignoreSIGPIPE()
	if !server.Forks && opts.threads > 0 {
		runtime.GOMAXPROCS(opts.threads) // the one worker serves in this process
	}
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP) // rolling restart
	defer signal.Stop(reload)
	c := &server.Cluster{
		Name:    opts.mode,
		Workers: opts.workers,
		Sched:   opts.sched,
		Queue:   opts.queue,
		Config:  opts.config(),
		Grace:   opts.grace,
		Logger:  server.NewLogger(stderr, opts.logFormat),
		Stderr:  stderr,
		Reload:  reload,
	}
	return c.ListenAndRun(ctx, opts.addr, func(url string) { fmt.Fprintf(stdout, "listening on %s\n", url) })
}
