package queue

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/httpfront"
	"github.com/flipbench/flipbench/server"
)

// FrontConfig configures the HTTP front of a queue.
type FrontConfig struct {
	// Reply is [ReplyWait] or [ReplyAsync]. Empty means ReplyWait.
	Reply string
	// Queue bounds the jobs that no worker has taken yet, in the
	// stream, every front's (see [sharedDepth]); past it POST /flip gets
	// 503 with Retry-After. Zero means [server.DefaultQueue].
	Queue int
	// Image is flipped for a POST /flip without a body: a file, put in
	// the object store once so that workers on other machines have it,
	// or "fixture:NAME", which every worker has embedded. Empty means
	// the embedded default photo.
	Image string
	// Quality and MaxPixels go with every job to the worker. Zero means
	// the server's defaults.
	Quality   int
	MaxPixels int
	// MaxBody is the largest request body accepted. Zero means
	// [server.DefaultMaxBody].
	MaxBody int64
	// ReadTimeout bounds the time a request takes to arrive, body
	// included. Zero means [server.DefaultReadTimeout].
	ReadTimeout time.Duration
	// Uploads bounds the bodies streamed to the object store at once;
	// the others wait, unread, in their connections (TCP holds them back
	// at the client), so that a burst of photos costs the front and its
	// broker a few chunks each, not every photo at once. Zero means
	// [DefaultUploads].
	Uploads int
	// NATS is the broker's URL, shown (password hidden) in /healthz.
	NATS string
	// Workers, if set, reports the local workers for /healthz.
	Workers func() []server.WorkerHealth
	// Restarts, if set, counts the local workers' restarts for /metrics.
	Restarts func() int
	// Logger receives the front's events. Nil means no logging.
	Logger *slog.Logger
}

// Validate checks the front's own settings; the image is checked by
// [server.Config.Validate].
func (c FrontConfig) Validate() error {
	if c.Reply != "" && !slices.Contains(Replies, c.Reply) {
		return fmt.Errorf("reply must be one of %s, got %q", strings.Join(Replies, ", "), c.Reply)
	}
	if c.Queue < 0 {
		return fmt.Errorf("queue must be >= 0, got %d", c.Queue)
	}
	return server.Config{Image: c.Image, Quality: c.Quality, MaxPixels: c.MaxPixels,
		MaxBody: c.MaxBody, ReadTimeout: c.ReadTimeout}.Validate()
}

// DefaultUploads is how many bodies a front streams to the object store at
// once: enough to keep a disk busy; more only queue in the broker's memory.
const DefaultUploads = 4

// Errors of POST /flip.
var (
	// ErrQueueFull means the bound on jobs waiting in the stream is reached.
	ErrQueueFull = errors.New("queue full")
	// ErrStopping means the front is stopping.
	ErrStopping = errors.New("stopping")
)

// Front is the HTTP front of a queue: POST /flip puts a job on the stream
// and answers when it is done (wait) or at once (async); GET /jobs/ID and
// GET /jobs/ID/events tell a job's state.
type Front struct {
	q     *Queue
	cfg   FrontConfig
	image string // jobSpec.Image for requests without a body
	log   *slog.Logger
	pid   int
	start time.Time
	stats *frontStats
	seen  *seenWorkers // the workers the job records name

	mu       sync.Mutex
	waiting  map[string]struct{}        // this front's jobs no worker has taken
	running  map[string]struct{}        // jobs (any front's) being run now
	waiters  map[string]chan *JobStatus // wait mode: the requests waiting for their job
	resynced time.Time                  // when resync last looked
	depth    sharedDepth                // the stream's waiting jobs, every front's

	uploads   chan struct{} // a place per upload streaming to the object store
	stopping  chan struct{} // closed when waiting requests must give up
	stopOnce  sync.Once
	watchStop context.CancelFunc
	watchDone chan struct{}

	inflight atomic.Int64
	accepted atomic.Int64
}

// NewFront makes the front of q: it puts a file image in the object store
// and starts watching job records. Call Close to stop.
func NewFront(ctx context.Context, q *Queue, cfg FrontConfig) (*Front, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Front{q: q, cfg: cfg, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)), pid: os.Getpid(), start: time.Now(),
		waiting: map[string]struct{}{}, running: map[string]struct{}{}, waiters: map[string]chan *JobStatus{},
		stopping: make(chan struct{}), watchDone: make(chan struct{}), uploads: make(chan struct{}, cmp.Or(cfg.Uploads, DefaultUploads))}
	var err error
	if f.image, err = f.putImage(ctx); err != nil {
		return nil, err
	}
	f.stats, f.seen = newFrontStats(f), newSeenWorkers()
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.watchStop = cancel
	// Only what changes from now on: records of jobs that ended before
	// this front started are read on demand, by GET /jobs/ID.
	w, err := q.records.WatchAll(wctx, jetstream.UpdatesOnly())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch job records: %w", err)
	}
	go f.watch(w)
	return f, nil
}

// Close stops watching records; requests still waiting give up.
func (f *Front) Close() {
	f.giveUp()
	f.watchStop()
	<-f.watchDone
}

// giveUp makes every request still waiting for its job answer 503.
func (f *Front) giveUp() { f.stopOnce.Do(func() { close(f.stopping) }) }

// putImage returns how jobs without a body name the image: a fixture as
// it is, a file as an object, put in the store once by its digest.
func (f *Front) putImage(ctx context.Context) (string, error) {
	name := cmp.Or(f.cfg.Image, server.FixturePrefix+fixtures.Default)
	if strings.HasPrefix(name, server.FixturePrefix) {
		return name, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	sum := sha256.Sum256(data)
	obj := "image/" + hex.EncodeToString(sum[:])
	if _, err := f.q.uploads.GetInfo(ctx, obj); err == nil {
		return "object:" + obj, nil
	}
	if _, err := f.q.uploads.PutBytes(ctx, obj, data); err != nil {
		return "", fmt.Errorf("put image %s in the object store: %w", name, err)
	}
	return "object:" + obj, nil
}

// Handler returns the front's routes: GET /, GET /healthz, GET /metrics,
// POST /flip, GET /jobs/{id} and GET /jobs/{id}/events. Every response
// carries X-Response-Time and X-Worker-Pid (the front's, or on a flip the
// worker's).
func (f *Front) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", f.handleRoot)
	mux.HandleFunc("GET /healthz", f.handleHealth)
	mux.Handle("GET /metrics", f.stats.Handler())
	mux.HandleFunc("POST /flip", f.handleFlip)
	mux.HandleFunc("GET /jobs/{id}", f.handleJob)
	mux.HandleFunc("GET /jobs/{id}/events", f.handleEvents)
	return httpfront.Timing{PID: f.pid, Status: f.stats.Answered}.Wrap(mux)
}

// Serve serves on ln until ctx is done, then stops gracefully: it stops
// accepting and lets requests waiting for their jobs have up to grace
// (zero: [server.DefaultGrace]); those still waiting then get 503. It
// returns nil after a stop.
func (f *Front) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := httpfront.NewServer(f.Handler(), f.cfg.ReadTimeout, f.log) // as a cluster's worker serves
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cmp.Or(grace, server.DefaultGrace))
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Grace is over: what still waits is told so, then cut.
		f.giveUp()
		qctx, qcancel := context.WithTimeout(context.Background(), time.Second)
		defer qcancel()
		if srv.Shutdown(qctx) != nil {
			srv.Close()
		}
	}
	return nil
}
