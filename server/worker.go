package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
)

// WorkerEnv is the environment variable that marks a worker process. The
// supervisor sets it to the worker's spec (JSON) and passes three files:
// the listening socket as fd 3, the read end of a lifeline pipe as fd 4
// (EOF means the supervisor is gone) and the write end of a ready pipe as
// fd 5 (the worker writes "ready" once it serves).
const WorkerEnv = "FLIPBENCH_WORKER_SPEC"

// ErrNotWorker is returned by [InheritedWorker] in a process that the supervisor
// did not start.
var ErrNotWorker = errors.New("not a worker process: workers are started by flipbench standard or flipbench cluster")

// errSupervisorGone is returned by Worker.Run when the lifeline breaks.
var errSupervisorGone = ErrSupervisorGone

// ErrSupervisorGone is the cause of the context of [Worker.Supervised]
// once the lifeline breaks, and what [Worker.Run] returns then.
var ErrSupervisorGone = errors.New("supervisor is gone")

// workerSpec is what the supervisor tells a worker.
type workerSpec struct {
	Config Config        `json:"config"`
	Grace  time.Duration `json:"grace"`
	// Sched is the dispatch policy, which decides what fd 3 is: the
	// shared listening socket (shared), the handoff socket (rr, free),
	// or the supervisor's reservation of the port Addr, on which the
	// worker listens itself (reuseport).
	Sched string `json:"sched"`
	Addr  string `json:"addr,omitempty"`
	// Extra is [Cluster.Extra], for a worker of another kind.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// workerSpec is what the supervisor tells the worker of index cfg.Worker.
func (c *Cluster) workerSpec(cfg Config, addr string) ([]byte, error) {
	spec := workerSpec{Config: cfg, Grace: c.grace(), Sched: c.sched(), Addr: addr}
	if c.Extra != nil {
		extra, err := json.Marshal(c.Extra)
		if err != nil {
			return nil, fmt.Errorf("worker spec: %w", err)
		}
		spec.Extra = extra
	}
	return json.Marshal(spec)
}

// The file descriptors a worker inherits (0-2 are stdio).
const (
	fdListener = 3
	fdLifeline = 4
	fdReady    = 5
)

// Worker is what a supervisor gave a worker process: its spec, from
// [WorkerEnv]. The inherited files are taken over by [Worker.Run].
type Worker struct {
	spec workerSpec
}

// InheritedWorker reads the worker's spec from [WorkerEnv]. It returns
// [ErrNotWorker] in a process that no supervisor started.
func InheritedWorker() (*Worker, error) {
	raw, ok := os.LookupEnv(WorkerEnv)
	if !ok {
		return nil, ErrNotWorker
	}
	var spec workerSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return nil, fmt.Errorf("worker spec: %w", err)
	}
	return &Worker{spec: spec}, nil
}

// Threads is the GOMAXPROCS the worker's process should run with: its
// Threads, or every CPU for zero. Setting it is the entry point's work.
func (w *Worker) Threads() int { return cmp.Or(w.spec.Config.Threads, runtime.NumCPU()) }

// Config is the configuration the supervisor gave the worker; Worker is
// its index.
func (w *Worker) Config() Config { return w.spec.Config }

// Grace is how long the worker's running jobs may finish after SIGTERM.
func (w *Worker) Grace() time.Duration { return w.spec.Grace }

// Extra decodes into v the settings of the worker's own kind that the
// supervisor gave it ([Cluster.Extra]).
func (w *Worker) Extra(v any) error {
	if len(w.spec.Extra) == 0 {
		return errors.New("worker spec: no settings of the worker's own")
	}
	if err := json.Unmarshal(w.spec.Extra, v); err != nil {
		return fmt.Errorf("worker spec: %w", err)
	}
	return nil
}

// Supervised is for a worker that serves no inherited socket (see
// [Cluster.RunDetached]): it takes over the lifeline and the ready pipe
// and returns a context that is cancelled, with [ErrSupervisorGone] as
// its cause, once the supervisor is gone (even killed by SIGKILL), and a
// function that tells the supervisor, once, that the worker is ready.
func (w *Worker) Supervised(ctx context.Context) (context.Context, context.CancelFunc, func() error) {
	lifeline := os.NewFile(fdLifeline, "lifeline")
	ready := os.NewFile(fdReady, "ready")
	os.NewFile(fdListener, "listener").Close() // nothing to serve on it
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		io.Copy(io.Discard, lifeline) // returns at EOF: the supervisor is gone
		cancel(ErrSupervisorGone)
	}()
	tell := sync.OnceValue(func() error {
		defer ready.Close()
		if _, err := io.WriteString(ready, "ready\n"); err != nil {
			return fmt.Errorf("worker %d: tell supervisor ready: %w", w.spec.Config.Worker, err)
		}
		return nil
	})
	return ctx, func() { cancel(nil) }, tell
}

// Run is the body of a worker process: it serves on the inherited socket
// and returns nil after a graceful shutdown once ctx is done (the
// supervisor sends SIGTERM). It returns an error at once if the supervisor
// dies, so that no worker outlives it, and logs to stderr.
func (w *Worker) Run(ctx context.Context, stderr io.Writer) error {
	cfg := w.spec.Config
	cfg.Logger = NewLogger(stderr, cfg.LogFormat)

	lifeline := os.NewFile(fdLifeline, "lifeline")
	ready := os.NewFile(fdReady, "ready")
	ln, err := inheritedListener(w.spec)
	if err != nil {
		return fmt.Errorf("worker %d: %w", cfg.Worker, err)
	}
	defer ln.Close()

	// The lifeline: the supervisor holds the write end and never writes,
	// so a read returns only when every copy of it is closed, which the
	// kernel does when the supervisor dies, even by SIGKILL.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, lifeline)
		close(gone)
		cancel(errSupervisorGone)
	}()

	s, err := New(cfg)
	if err != nil {
		return fmt.Errorf("worker %d: %w", cfg.Worker, err)
	}
	defer s.Close()

	// Announce readiness only now: the server is built and its image
	// checked. Connections that arrived meanwhile wait in the backlog.
	if _, err := io.WriteString(ready, "ready\n"); err != nil {
		return fmt.Errorf("worker %d: tell supervisor ready: %w", cfg.Worker, err)
	}
	ready.Close()
	cfg.Logger.Info("worker online", "worker", cfg.Worker, "pid", os.Getpid(),
		"gomaxprocs", runtime.GOMAXPROCS(0), "slots", s.Slots(), "image", cfg.imageName())

	grace := w.spec.Grace
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln, grace) }()
	select {
	case err = <-errc:
	case <-gone:
		// Nobody is left to send SIGTERM or to wait for us: stop now,
		// dropping any job in flight, job files first.
		s.Close()
		cfg.Logger.Warn("supervisor gone, exiting", "worker", cfg.Worker, "pid", os.Getpid())
		return errSupervisorGone
	}
	if context.Cause(ctx) == errSupervisorGone {
		return errSupervisorGone
	}
	if err != nil {
		return fmt.Errorf("worker %d: %w", cfg.Worker, err)
	}
	cfg.Logger.Info("worker stopped", "worker", cfg.Worker, "pid", os.Getpid(), "served", s.served.Load())
	return nil
}

// NewLogger returns the timestamped logger that flipbench servers use:
// one event a line, as logfmt-like text or as JSON.
func NewLogger(w io.Writer, format string) *slog.Logger {
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			a.Value = slog.StringValue(a.Value.Time().Format("2006-01-02T15:04:05.000Z07:00"))
		}
		return a
	}}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
