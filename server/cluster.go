package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"time"
)

// Defaults for [Cluster].
const (
	// DefaultBackoff is the first delay before a crashed worker is
	// restarted; it doubles up to DefaultMaxBackoff.
	DefaultBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	// DefaultStableAfter is how long a worker must stay up for its restart
	// delay to go back to DefaultBackoff.
	DefaultStableAfter = 10 * time.Second
	// DefaultMaxStartFailures is how many times in a row a worker may exit
	// before becoming ready before the supervisor gives up.
	DefaultMaxStartFailures = 5
	// DefaultReadyTimeout is how long a new worker has to become ready.
	DefaultReadyTimeout = 30 * time.Second
)

// ErrUnsupported is returned by [Cluster.Run] on systems where workers
// cannot share a listening socket (anything but Linux and macOS).
var ErrUnsupported = errors.New("cluster mode needs Linux or macOS")

// ErrGaveUp is wrapped by the error [Cluster.Run] returns when a worker
// keeps exiting before it becomes ready.
var ErrGaveUp = errors.New("worker keeps failing to start")

// Cluster is the supervisor: it runs Workers copies of the worker process
// on one listening socket, restarts those that exit, and stops them all
// gracefully. `flipbench standard` is a Cluster of one.
type Cluster struct {
	// Name names the cluster in its logs: "standard" or "cluster".
	Name string
	// Workers is the number of worker processes. Zero means one per CPU.
	Workers int
	// Sched is the dispatch policy, one of [Scheds]. Empty means
	// [DefaultSched].
	Sched string
	// Queue bounds the requests waiting for a worker under the rr and
	// free policies; past it they get 503 with Retry-After. Zero means
	// [DefaultQueue].
	Queue int
	// Config is every worker's configuration; Worker is set per process.
	Config Config
	// Exe is the program to start as a worker. Empty means this program
	// (os.Executable).
	Exe string
	// Args are the arguments that make Exe run a worker: an entry point
	// ([Entries]) of a flipbench binary. Nil means []string{[EntryWorker]}
	// ([Worker.Run]).
	Args []string
	// Extra is the workers' own settings, put as JSON in every worker's
	// spec ([Worker.Extra]): what a worker that is not a flip server's
	// needs, such as a queue worker's broker and its credentials, which
	// must not show on a command line. Nil means none.
	Extra any
	// Grace is how long workers may finish in-flight jobs after a stop
	// before they are killed. Zero means [DefaultGrace].
	Grace time.Duration
	// Backoff is the first restart delay, doubled after each quick exit up
	// to MaxBackoff. Zero means [DefaultBackoff] and [DefaultMaxBackoff].
	Backoff    time.Duration
	MaxBackoff time.Duration
	// StableAfter is the uptime after which a worker's exit counts as a new
	// crash rather than one more in a series. Zero means [DefaultStableAfter].
	StableAfter time.Duration
	// MaxStartFailures is how many consecutive exits before readiness make
	// Run give up. Zero means [DefaultMaxStartFailures].
	MaxStartFailures int
	// ReadyTimeout is how long a new worker has to become ready before it
	// is killed and counted as a failed start. Zero means [DefaultReadyTimeout].
	ReadyTimeout time.Duration
	// Logger receives the supervisor's events. Nil means no logging.
	Logger *slog.Logger
	// Stderr receives the workers' stderr (their logs). Nil means os.Stderr.
	Stderr io.Writer
	// Ready, if set, is called each time a worker becomes ready to
	// serve, restarted ones included, from the goroutine that supervises
	// that worker: it must not block.
	Ready func(worker, pid int)
	// Nice is the workers' nice value (Unix; 1 to 19, the higher the
	// lower their CPU priority): a supervisor with work of its own, such
	// as a queue front answering 202 while its workers flip, sets it so
	// that its work is not kept waiting behind theirs on shared CPUs.
	// Zero leaves them at the supervisor's priority.
	Nice int
	// Reload triggers a rolling restart for each value received: one
	// worker at a time, the new one ready before the old one drains.
	// flipbench connects SIGHUP to it. Nil means never.
	Reload <-chan os.Signal
}

func (c *Cluster) grace() time.Duration      { return cmp.Or(c.Grace, DefaultGrace) }
func (c *Cluster) backoff() time.Duration    { return cmp.Or(c.Backoff, DefaultBackoff) }
func (c *Cluster) maxBackoff() time.Duration { return cmp.Or(c.MaxBackoff, DefaultMaxBackoff) }
func (c *Cluster) stableAfter() time.Duration {
	return cmp.Or(c.StableAfter, DefaultStableAfter)
}
func (c *Cluster) readyTimeout() time.Duration {
	return cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
}
func (c *Cluster) maxStartFailures() int {
	return cmp.Or(c.MaxStartFailures, DefaultMaxStartFailures)
}

// ListenAndRun binds addr, calls listening (if not nil) with the base URL
// ("http://127.0.0.1:3000") and runs the cluster on that socket until ctx
// is done (see [Cluster.Run]). Where workers cannot be forked
// ([ErrUnsupported]), a cluster of one serves in this process instead,
// unsupervised.
func (c *Cluster) ListenAndRun(ctx context.Context, addr string, listening func(url string)) error {
	log := c.logger()
	if err := CheckSched(c.Sched); err != nil {
		return err
	}
	if c.sched() == SchedReusePort {
		reserved, bound, err := reservePort(addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		defer reserved.Close()
		if listening != nil {
			listening("http://" + bound.String())
		}
		c.logStarted(bound)
		return c.stopped(c.runReusePort(ctx, reserved, bound.String()))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	defer ln.Close()
	if listening != nil {
		listening("http://" + ln.Addr().String())
	}
	c.logStarted(ln.Addr())
	err = c.Run(ctx, ln)
	if errors.Is(err, ErrUnsupported) && c.workers() == 1 {
		log.Warn("no worker supervision on this system, serving in-process", "os", runtime.GOOS)
		return c.serveInProcess(ctx, ln)
	}
	return c.stopped(err)
}

func (c *Cluster) logStarted(addr net.Addr) {
	c.logger().Info("supervisor started", "mode", c.Name, "pid", os.Getpid(), "workers", c.workers(),
		"threads", c.Config.Threads, "sched", c.sched(), "addr", addr.String())
}

// stopped logs a clean stop and passes err on.
func (c *Cluster) stopped(err error) error {
	if err == nil {
		c.logger().Info("supervisor stopped", "mode", c.Name, "pid", os.Getpid())
	}
	return err
}

func (c *Cluster) sched() string { return cmp.Or(c.Sched, DefaultSched) }
func (c *Cluster) queue() int    { return cmp.Or(c.Queue, DefaultQueue) }

// serveInProcess serves on ln in this process, with the process's own
// GOMAXPROCS: the fallback where workers cannot be forked.
func (c *Cluster) serveInProcess(ctx context.Context, ln net.Listener) error {
	cfg := c.Config
	cfg.Logger = c.logger()
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Serve(ctx, ln, c.grace())
}

func (c *Cluster) workers() int { return cmp.Or(c.Workers, runtime.NumCPU()) }

func (c *Cluster) logger() *slog.Logger { return cmp.Or(c.Logger, slog.New(slog.DiscardHandler)) }
