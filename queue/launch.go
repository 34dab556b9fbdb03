package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/server"
)

// localSpec is what a queue server tells each local worker, in the extra
// settings of its worker spec ([server.Cluster.Extra]): where the broker
// is and how to prove itself to it. A token travels here, in the
// environment of the one worker process, never on a command line that ps
// shows, and never in the CLI's own variables.
type localSpec struct {
	URL  string      `json:"url"`
	Auth broker.Auth `json:"auth"`
}

// LocalWorker is a queue server's local worker process
// ([server.EntryQueueWorker]): a [Worker] supervised like a cluster's,
// its settings from the spec its supervisor gave it.
type LocalWorker struct {
	sup  *server.Worker
	spec localSpec
}

// InheritedLocalWorker reads the spec a queue server gave this process.
// It returns [server.ErrNotWorker] in a process that no supervisor
// started.
func InheritedLocalWorker() (*LocalWorker, error) {
	sup, err := server.InheritedWorker()
	if err != nil {
		return nil, err
	}
	var spec localSpec
	if err := sup.Extra(&spec); err != nil {
		return nil, fmt.Errorf("queue worker: %w", err)
	}
	return &LocalWorker{sup: sup, spec: spec}, nil
}

// Threads is the GOMAXPROCS the worker's process should run with, and its
// jobs at once. Setting it is the entry point's work.
func (l *LocalWorker) Threads() int { return l.sup.Threads() }

// Run pulls and runs jobs until ctx is done (SIGTERM from its supervisor),
// then lets running jobs finish within the supervisor's grace. It logs to
// stderr, named local-INDEX, and returns [server.ErrSupervisorGone] at
// once, its jobs dropped (they go to other workers), if the supervisor
// dies: no worker outlives it.
func (l *LocalWorker) Run(ctx context.Context, stderr io.Writer) error {
	cfg := l.sup.Config()
	life, cancel, ready := l.sup.Supervised(context.Background())
	defer cancel()
	w := &Worker{
		URL:        l.spec.URL,
		Auth:       l.spec.Auth,
		Name:       fmt.Sprintf("local-%d", cfg.Worker),
		Slots:      l.sup.Threads(),
		TmpDir:     cfg.TmpDir,
		TempPrefix: server.TempDirPrefix(cfg.Worker, os.Getpid()),
		Grace:      l.sup.Grace(),
		Abort:      life.Done(),
		Ready:      func() { ready() },
		Logger:     server.NewLogger(stderr, cfg.LogFormat),
	}
	// Stopped while its queue server is starting is a clean stop.
	if err := w.Run(ctx); err != nil && !errors.Is(err, ErrNotReached) {
		return err
	}
	if life.Err() != nil {
		return server.ErrSupervisorGone
	}
	return nil
}

// LaunchSettings are a launched queue server's own settings, in the
// extra settings of its launch spec ([server.LaunchConfig.Extra]).
type LaunchSettings struct {
	// Reply is [ReplyWait] or [ReplyAsync]. Empty means ReplyWait.
	Reply string `json:"reply"`
	// NATS is an existing NATS server's or cluster's URLs, separated by
	// commas, instead of an embedded broker; the queue is kept there in
	// file storage, on Replicas servers (0: one).
	NATS     string `json:"nats,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
}

// Launch starts a queue server for a bench through [server.Launch]: a
// front on a free loopback port, a broker (embedded, on another port, or
// set.NATS), and lc.Workers local workers, its front answering as
// set.Reply says. It returns once every local worker is ready.
//
// Only settings other than the defaults go in the spec: a build older
// than this one, which reads none, then serves a wait-mode queue on its
// embedded broker as asked, and is refused (by its missing echo) for
// anything else.
func Launch(ctx context.Context, lc server.LaunchConfig, set LaunchSettings) (*server.Instance, error) {
	lc.Entry, lc.Extra = server.EntrySuperviseQueue, nil
	if set.Reply = cmp.Or(set.Reply, ReplyWait); set != (LaunchSettings{Reply: ReplyWait}) {
		lc.Extra = set
	}
	return server.Launch(ctx, lc)
}

// RunLaunched is the body of a queue server started by [Launch]: it reads
// its spec ([server.InheritedLaunch]), runs the front, its embedded
// broker (in memory, on a free loopback port) and the local workers as
// `flipbench queue` runs them, and reports its URL and each worker's
// readiness on the status pipe, until ctx is done or the launcher is
// gone. legacyReply is the reply mode that a launcher older than this
// build gives as a flag; the spec's wins. Only a program's entry point
// should call it: it takes over the inherited files. It returns
// [server.ErrNotLaunched] in a process that Launch did not start.
func RunLaunched(ctx context.Context, stderr io.Writer, legacyReply string) error {
	l, ctx, cancel, err := server.InheritedLaunch(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	set := LaunchSettings{Reply: legacyReply}
	if _, err := l.Extra(&set); err != nil {
		return err
	}
	cfg := l.Config
	storage := Memory
	if set.NATS != "" {
		storage = File // an external server keeps what it is given
	}
	s := &Server{
		Addr:     l.Addr,
		NATS:     set.NATS,
		Replicas: set.Replicas,
		Embedded: broker.EmbeddedConfig{Addr: "127.0.0.1:0"},
		Storage:  storage,
		Front: FrontConfig{Reply: set.Reply, Queue: l.Queue, Image: cfg.Image, Quality: cfg.Quality,
			MaxPixels: cfg.MaxPixels, MaxBody: cfg.MaxBody, ReadTimeout: cfg.ReadTimeout},
		Workers: l.Workers,
		Worker:  server.Config{Threads: cfg.Threads, TmpDir: cfg.TmpDir, LogFormat: cfg.LogFormat},
		// As flipbench queue runs them: what a bench measures is the
		// queue as shipped.
		WorkerNice: DefaultWorkerNice,
		Grace:      l.Grace,
		Logger:     server.NewLogger(stderr, cfg.LogFormat),
		Stderr:     stderr,
		Ready:      l.WorkerReady,
	}
	return s.Run(ctx, func(httpURL, natsURL string) { l.Listening(httpURL) })
}
