package server

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flipbench/flipbench/httpfront"
)

// Server is one flip server process: the HTTP front over a [Flipper].
type Server struct {
	cfg     Config
	flipper *Flipper
	source  func() (io.ReadCloser, error)
	dir     string
	log     *slog.Logger
	pid     int
	start   time.Time

	inflight atomic.Int64
	served   atomic.Int64
}

// New validates cfg and makes the server's own temporary directory under
// cfg.TmpDir. Call Close to remove it.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src, err := cfg.source()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.TmpDir, TempDirPrefix(cfg.Worker, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("make temp dir: %w", err)
	}
	return &Server{
		cfg:     cfg,
		flipper: &Flipper{Dir: dir, Quality: cfg.Quality, MaxPixels: cfg.MaxPixels},
		source:  src,
		dir:     dir,
		log:     cfg.logger(),
		pid:     os.Getpid(),
		start:   time.Now(),
	}, nil
}

// TempDirPrefix names a worker's temporary directory (for os.MkdirTemp)
// after its index and PID, so that a supervisor can find and remove the
// directory of a worker that was killed before it could clean up.
func TempDirPrefix(worker, pid int) string {
	return fmt.Sprintf("flipbench-w%d-p%d-", worker, pid)
}

// Dir is the server's temporary directory, where job files live while a
// job runs.
func (s *Server) Dir() string { return s.dir }

// Close removes the server's temporary directory.
func (s *Server) Close() error { return os.RemoveAll(s.dir) }

// Slots is the number of connections the server takes at once: Threads, or
// one per CPU when Threads is zero.
func (s *Server) Slots() int {
	if s.cfg.Threads == 0 {
		return runtime.NumCPU()
	}
	return s.cfg.Threads
}

// Handler returns the HTTP routes: GET /, GET /healthz and POST /flip.
// Every response carries X-Response-Time and X-Worker-Pid, and one that a
// supervisor accepted and handed over X-Queue-Time, how long it waited
// for this worker.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleRoot)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("POST /flip", s.handleFlip)
	return httpfront.Timing{PID: s.pid, Arrival: handedArrival}.Wrap(mux)
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it
// stops accepting, lets the connections it accepted deliver their
// requests, and waits for in-flight requests for up to grace (zero means
// as long as they take) before closing their connections. It takes a job
// slot before each Accept, so it never accepts what it cannot serve now,
// and returns nil after a shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := httpfront.NewServer(s.Handler(), s.cfg.ReadTimeout, s.log)
	srv.ConnContext = withHanded
	unread := &unreadConns{conns: map[net.Conn]struct{}{}}
	srv.ConnState = unread.track
	gl := newGatedListener(ln, s.Slots())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(gl) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// A socket of the worker's own (reuseport) resets what it has queued
	// when it closes, and a handoff socket (rr, free) holds what the
	// supervisor handed before it turned to another worker: serve the
	// queue first.
	// The drain takes at most half the grace: the supervisor kills a
	// worker that is not gone within the grace, and Shutdown needs the
	// rest for the requests the drain let in.
	stopStart := time.Now()
	if d, ok := ln.(interface{ drain(time.Duration) }); ok {
		d.drain(cmp.Or(grace, DefaultGrace) / 2)
	}
	// net/http drops, unanswered, a request it reads once Shutdown has
	// begun: stop accepting first, and give the connections already
	// accepted a moment to deliver their requests. An Accept in flight
	// may still return a connection it took off the socket: once the
	// serve loop has returned, every connection it took is tracked.
	gl.Close()
	<-errc
	unread.wait(unreadWait)
	sctx := context.Background()
	if grace > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithDeadline(sctx, stopStart.Add(grace))
		defer cancel()
	}
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// unreadWait bounds how long a stopping server waits for the requests of
// connections it has accepted: a client sends its request at once, and
// one that does not is idle, which Shutdown handles.
const unreadWait = time.Second

// unreadConns tracks the connections accepted whose request has not been
// read yet (http.StateNew).
type unreadConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (u *unreadConns) track(c net.Conn, st http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if st == http.StateNew {
		u.conns[c] = struct{}{}
	} else {
		delete(u.conns, c)
	}
}

// wait returns once no accepted connection waits to be read, or after max.
func (u *unreadConns) wait(max time.Duration) {
	deadline := time.Now().Add(max)
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		u.mu.Lock()
		n := len(u.conns)
		u.mu.Unlock()
		if n == 0 {
			return
		}
		<-t.C
	}
}

// handed is a connection that a supervisor accepted and handed over: it
// knows when it was accepted, and reports its response's status back.
type handed interface {
	Accepted() time.Time
	SetStatus(code int)
}

type handedKey struct{}

// withHanded puts the handed connection under c, if any, in ctx, for the
// middleware.
func withHanded(ctx context.Context, c net.Conn) context.Context {
	if sc, ok := c.(*slotConn); ok {
		c = sc.Conn
	}
	if h, ok := c.(handed); ok {
		return context.WithValue(ctx, handedKey{}, h)
	}
	return ctx
}

// handedArrival tells the timing middleware when a handed connection
// was accepted, and where its status goes (see [httpfront.Timing]).
func handedArrival(r *http.Request) (time.Time, func(int), bool) {
	h, ok := r.Context().Value(handedKey{}).(handed)
	if !ok {
		return time.Time{}, nil, false
	}
	return h.Accepted(), h.SetStatus, true
}

// SupervisorHealth is the body of GET /healthz when the supervisor
// answers it (the free policy): its view of the whole cluster.
type SupervisorHealth struct {
	// PID is the supervisor's; Sched the dispatch policy.
	PID   int    `json:"pid"`
	Sched string `json:"sched"`
	// Workers is each worker's state.
	Workers []WorkerHealth `json:"workers"`
	// Queue is the requests waiting for a worker, QueueLimit its bound,
	// Rejected the requests answered 503 since the start.
	Queue      int   `json:"queue"`
	QueueLimit int   `json:"queue_limit"`
	Rejected   int64 `json:"rejected"`
	// UptimeS is the seconds since the supervisor started.
	UptimeS float64 `json:"uptime_s"`
	// Stopping is set once a stop began: the answer is then 503, as
	// every request's is, so that a load balancer stops sending.
	Stopping bool `json:"stopping,omitempty"`
}

// WorkerHealth is one worker in a [SupervisorHealth].
type WorkerHealth struct {
	// Index and PID identify it; State is ready, busy or down.
	Index int    `json:"index"`
	PID   int    `json:"pid"`
	State string `json:"state"`
	// Inflight is the requests it holds now, Served those it closed,
	// Restarts how often its process was started again.
	Inflight int   `json:"inflight"`
	Served   int64 `json:"served"`
	Restarts int   `json:"restarts"`
}

// Health is the body of GET /healthz.
type Health struct {
	// PID and Worker identify the process and its index in the cluster.
	PID    int `json:"pid"`
	Worker int `json:"worker"`
	// GOMAXPROCS is the worker's, --threads unless 0.
	GOMAXPROCS int `json:"gomaxprocs"`
	// Inflight is the flips running now; Served those done since start.
	Inflight int64 `json:"inflight"`
	Served   int64 `json:"served"`
	// UptimeS is the seconds since the server started.
	UptimeS float64 `json:"uptime_s"`
}

// FlipResponse is the JSON body of a successful POST /flip.
type FlipResponse struct {
	// PID and Worker identify the process that flipped.
	PID    int `json:"pid"`
	Worker int `json:"worker"`
	// Result is the job's sizes and timings.
	Result
}

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Hello from flipbench worker %d, pid %d\n", s.cfg.Worker, s.pid)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	httpfront.WriteJSON(w, http.StatusOK, Health{
		PID:        s.pid,
		Worker:     s.cfg.Worker,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Inflight:   s.inflight.Load(),
		Served:     s.served.Load(),
		UptimeS:    float64(time.Since(s.start).Milliseconds()) / 1000,
	})
}

func (s *Server) handleFlip(w http.ResponseWriter, r *http.Request) {
	received := httpfront.Received(r)
	wantImage, err := WantsImage(r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	s.inflight.Add(1)
	defer s.inflight.Add(-1)

	src, from, err := s.pickSource(w, r)
	if err != nil {
		s.fail(w, StatusFor(err), err)
		return
	}
	defer src.Close()

	job := Job{Source: src, Received: received}
	var out bytes.Buffer
	if wantImage {
		job.Output = &out
	}
	s.log.Info("job start", "worker", s.cfg.Worker, "pid", s.pid, "source", from, "remote", r.RemoteAddr)
	res, err := s.flipper.Run(r.Context(), job)
	if err != nil {
		code := StatusFor(err)
		s.log.Warn("job failed", "worker", s.cfg.Worker, "pid", s.pid, "status", code, "err", err)
		s.fail(w, code, err)
		return
	}
	s.served.Add(1)
	s.log.Info("job end", "worker", s.cfg.Worker, "pid", s.pid, "ms", res.TotalMs,
		"decode_ms", res.DecodeMs, "flip_ms", res.FlipMs, "encode_ms", res.EncodeMs,
		"bytes", res.InputBytes, "size", fmt.Sprintf("%dx%d", res.Width, res.Height))
	if wantImage {
		w.Header().Set("Content-Type", "image/"+res.Format)
		w.Header().Set("Content-Length", fmt.Sprint(out.Len()))
		w.WriteHeader(http.StatusOK)
		out.WriteTo(w)
		return
	}
	httpfront.WriteJSON(w, http.StatusOK, FlipResponse{PID: s.pid, Worker: s.cfg.Worker, Result: res})
}

// pickSource returns the request body when one is sent, else the
// configured image. An error reading a body of unknown length, peeked at
// to find out, wraps [ErrReadSource].
func (s *Server) pickSource(w http.ResponseWriter, r *http.Request) (io.ReadCloser, string, error) {
	body, err := httpfront.RequestBody(w, r, s.cfg.maxBody())
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrReadSource, err)
	}
	if body != nil {
		return body, "body", nil
	}
	r.Body.Close()
	src, err := s.source()
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", s.cfg.imageName(), err)
	}
	return src, "image", nil
}

// StatusFor maps a job error to an HTTP status: 4xx for bad input, 499
// for a client that went away, 500 for anything else.
func StatusFor(err error) int {
	var maxBytes *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &maxBytes), errors.Is(err, ErrTooManyPixels):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrReadSource) && errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusRequestTimeout // a body that trickled past the read deadline
	case errors.Is(err, ErrReadSource):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnsupportedFormat):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrCorruptImage), errors.Is(err, ErrEmptySource):
		return http.StatusUnprocessableEntity
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return 499 // the client went away; nobody reads this status
	}
	return http.StatusInternalServerError
}

// WantsImage reports whether the client asked for the flipped image rather
// than the JSON report: ?return=image, or an Accept header naming an image
// type. The image is always in the source's own format.
func WantsImage(r *http.Request) (bool, error) {
	switch ret := r.URL.Query().Get("return"); ret {
	case "image":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, fmt.Errorf("return must be image or json, got %q", ret)
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && strings.HasPrefix(mt, "image/") {
			return true, nil
		}
	}
	return false, nil
}

func (s *Server) fail(w http.ResponseWriter, code int, err error) {
	httpfront.WriteError(w, code, s.pid, "", err)
}
