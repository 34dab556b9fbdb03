package queue

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/httpfront"
	"github.com/flipbench/flipbench/server"
)

// FrontConfig configures the HTTP front of a queue.
type FrontConfig struct {
	// Reply is [ReplyWait] or [ReplyAsync]. Empty means ReplyWait.
	Reply string
	// Queue bounds this front's jobs that no worker has taken yet; past
	// it POST /flip gets 503 with Retry-After. Zero means
	// [server.DefaultQueue].
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

// Errors of [Front.Run] and POST /flip.
var (
	// ErrQueueFull means the front's bound on waiting jobs is reached.
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

	mu       sync.Mutex
	waiting  map[string]struct{}        // this front's jobs no worker has taken
	running  map[string]struct{}        // jobs (any front's) being run now
	waiters  map[string]chan *JobStatus // wait mode: the requests waiting for their job
	resynced time.Time                  // when resync last looked

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
	f.stats = newFrontStats(f)
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

// watch follows the job records: it frees the front's queue places of
// jobs that workers took, and hands ended jobs to their waiters.
func (f *Front) watch(w jetstream.KeyWatcher) {
	defer close(f.watchDone)
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var st JobStatus
		if json.Unmarshal(e.Value(), &st) != nil {
			continue
		}
		f.observe(&st)
	}
}

func (f *Front) observe(st *JobStatus) {
	f.mu.Lock()
	delete(f.waiting, st.ID)
	var waiter chan *JobStatus
	if st.Ended() {
		delete(f.running, st.ID)
		waiter = f.waiters[st.ID]
		delete(f.waiters, st.ID)
	} else {
		f.running[st.ID] = struct{}{}
	}
	f.mu.Unlock()
	if st.Ended() {
		f.stats.ended(st)
		if waiter != nil {
			waiter <- st // buffered: one outcome per job
		}
	}
}

// resync looks up the jobs the front counts as waiting and forgets those
// a worker took: the watch may have missed their news (a reconnection to
// the broker), and a front must not refuse every job for ever on a stale
// count. It runs at most once a second, and reports whether it freed a
// place.
func (f *Front) resync(ctx context.Context) bool {
	f.mu.Lock()
	if time.Since(f.resynced) < time.Second {
		f.mu.Unlock()
		return false
	}
	f.resynced = time.Now()
	ids := make([]string, 0, len(f.waiting))
	for id := range f.waiting {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	freed := false
	for _, id := range ids {
		st, err := f.q.Status(ctx, id)
		if err != nil {
			return freed
		}
		if st == nil || st.State != StateQueued {
			f.mu.Lock()
			if _, ok := f.waiting[id]; ok {
				delete(f.waiting, id)
				freed = true
			}
			f.mu.Unlock()
		}
	}
	return freed
}

// submit puts a job on the stream: its body (if any) in the object store
// first. With wait, a waiter is registered before the job is published,
// so that its end cannot be missed.
func (f *Front) submit(ctx context.Context, body io.Reader, size int64, wantImage bool, accepted time.Time, wait bool) (*ticket, error) {
	id := nuid.Next()
	f.mu.Lock()
	select {
	case <-f.stopping:
		f.mu.Unlock()
		return nil, ErrStopping
	default:
	}
	if len(f.waiting) >= cmp.Or(f.cfg.Queue, server.DefaultQueue) {
		f.mu.Unlock()
		if !f.resync(ctx) {
			return nil, ErrQueueFull
		}
		return f.submit(ctx, body, size, wantImage, accepted, wait)
	}
	f.waiting[id] = struct{}{}
	t := &ticket{id: id}
	if wait {
		// The channel is the ticket's: the watch may deliver the end, and
		// forget the waiter, before anyone awaits it.
		t.end = make(chan *JobStatus, 1)
		f.waiters[id] = t.end
	}
	f.mu.Unlock()
	fail := func(err error) (*ticket, error) {
		f.mu.Lock()
		delete(f.waiting, id)
		delete(f.waiters, id)
		f.mu.Unlock()
		return nil, err
	}

	spec := jobSpec{ID: id, Accepted: accepted, WantImage: wantImage, Quality: f.cfg.Quality, MaxPixels: f.cfg.MaxPixels}
	msg := nats.NewMsg(SubjectPrefix + id)
	if body != nil {
		// A small body rides in the job's message: one publish, where
		// the object store would take five round trips. A large one is
		// streamed to the object store in chunks, never whole in memory.
		src := &server.TrackedReader{R: body}
		var head []byte
		if size < 0 || size <= InlineMax {
			var err error
			if head, err = readHead(src, size); err != nil {
				return fail(fmt.Errorf("%w: %w", server.ErrReadSource, err))
			}
		}
		if size <= InlineMax && len(head) <= InlineMax {
			spec.Inline, msg.Data = true, head
		} else {
			// Nothing of a large body is read before its turn: a burst
			// of photos waits in the kernel, not in the front's memory.
			spec.Upload = uploadName(id)
			select {
			case f.uploads <- struct{}{}:
			case <-ctx.Done():
				return fail(ctx.Err())
			case <-f.stopping:
				return fail(ErrStopping)
			}
			_, err := f.q.uploads.Put(ctx, jetstream.ObjectMeta{Name: spec.Upload}, io.MultiReader(bytes.NewReader(head), src))
			<-f.uploads
			if err != nil {
				if src.Err != nil {
					return fail(fmt.Errorf("%w: %w", server.ErrReadSource, src.Err))
				}
				return fail(fmt.Errorf("upload: %w", err))
			}
		}
	} else {
		spec.Image = f.image
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return fail(err)
	}
	msg.Header.Set(specHeader, string(data))
	// The message ID makes a publish that is tried again count once.
	if _, err := f.q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		if spec.Upload != "" {
			f.q.uploads.Delete(context.WithoutCancel(ctx), spec.Upload)
		}
		return fail(fmt.Errorf("publish job: %w", err))
	}
	f.accepted.Add(1)
	return t, nil
}

// ticket is a submitted job: its ID, and where its end is delivered
// (nil unless submitted with wait).
type ticket struct {
	id  string
	end chan *JobStatus
}

// await waits for the end of a job submitted with wait.
func (f *Front) await(ctx context.Context, t *ticket) (*JobStatus, error) {
	id, ch := t.id, t.end
	if ch == nil {
		return nil, fmt.Errorf("job %s: submitted without wait", id)
	}
	// A job that ended before the watch saw it would wait for ever: the
	// record is read once more after a while without news.
	check := time.NewTicker(5 * time.Second)
	defer check.Stop()
	for {
		select {
		case st := <-ch:
			return st, nil
		case <-check.C:
			if st, err := f.q.Status(ctx, id); err == nil && st != nil && st.Ended() {
				f.observe(st)
			}
		case <-ctx.Done():
			f.forget(id)
			return nil, ctx.Err()
		case <-f.stopping:
			f.forget(id)
			return nil, ErrStopping
		}
	}
}

func (f *Front) forget(id string) {
	f.mu.Lock()
	delete(f.waiters, id)
	f.mu.Unlock()
}

// retryAfter estimates, in whole seconds, when a rejected client may find
// room: the jobs waiting times the recent job time, over the jobs that
// run at once.
func (f *Front) retryAfter() int {
	f.mu.Lock()
	q, slots := len(f.waiting), max(len(f.running), 1)
	f.mu.Unlock()
	return httpfront.RetryAfter(q, slots, f.stats.RecentJob())
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

// readHead reads up to InlineMax+1 bytes of a body of size bytes (-1:
// unknown), in one buffer of the right size when the size is known.
func readHead(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > InlineMax {
		return io.ReadAll(io.LimitReader(r, InlineMax+1))
	}
	buf := make([]byte, size, size+1)
	n, err := io.ReadFull(r, buf)
	if err != nil {
		return buf[:n], err
	}
	return buf, nil
}

// FlipResponse is the JSON body of a POST /flip that waited for its job.
type FlipResponse struct {
	// Job is the job's ID; Worker names the worker that flipped, PID is
	// its process.
	Job    string `json:"job"`
	Worker string `json:"worker"`
	PID    int    `json:"pid"`
	// Tries is how many times the job was delivered.
	Tries int `json:"tries"`
	// QueueMs is from the request's arrival to the job's start on its
	// worker: the upload and the wait in the queue.
	QueueMs float64 `json:"queue_ms"`
	// Result is the job's sizes and timings.
	server.Result
}

// Accepted is the JSON body of a 202.
type Accepted struct {
	// ID is the job's; URL and Events are where to follow it.
	ID     string `json:"id"`
	State  string `json:"state"`
	URL    string `json:"url"`
	Events string `json:"events"`
}

func (f *Front) handleRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Hello from flipbench queue front, pid %d\n", f.pid)
}

func (f *Front) fail(w http.ResponseWriter, code int, id string, err error) {
	httpfront.WriteError(w, code, f.pid, id, err)
}

func (f *Front) handleFlip(w http.ResponseWriter, r *http.Request) {
	received := httpfront.Received(r)
	wantImage, err := server.WantsImage(r)
	if err != nil {
		f.fail(w, http.StatusBadRequest, "", err)
		return
	}
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	// A body left unread when the connection closes makes the kernel
	// reset it, which can destroy the answer on its way (a 503, a 413):
	// what the job did not read is read and dropped first.
	defer drain(w, r)
	body, err := httpfront.RequestBody(w, r, cmp.Or(f.cfg.MaxBody, server.DefaultMaxBody))
	if err != nil {
		f.fail(w, server.StatusFor(fmt.Errorf("%w: %w", server.ErrReadSource, err)), "", err)
		return
	}
	async := f.cfg.Reply == ReplyAsync
	t, err := f.submit(r.Context(), body, r.ContentLength, wantImage, received, !async)
	switch {
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrStopping):
		f.stats.Reject()
		w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter()))
		f.fail(w, http.StatusServiceUnavailable, "", err)
		return
	case err != nil:
		code := server.StatusFor(err)
		f.log.Warn("job not accepted", "pid", f.pid, "status", code, "err", err)
		f.fail(w, code, "", err)
		return
	}
	id := t.id
	w.Header().Set("X-Job-Id", id)
	if async {
		loc := "/jobs/" + id
		w.Header().Set("Location", loc)
		httpfront.WriteJSON(w, http.StatusAccepted, Accepted{ID: id, State: StateQueued, URL: loc, Events: loc + "/events"})
		return
	}
	st, err := f.await(r.Context(), t)
	if err != nil {
		code := http.StatusServiceUnavailable
		if r.Context().Err() != nil {
			code = 499 // the client went away; nobody reads this
		}
		f.fail(w, code, id, fmt.Errorf("job %s: %w", id, err))
		return
	}
	if st.PID != 0 {
		w.Header().Set("X-Worker-Pid", strconv.Itoa(st.PID))
	}
	if st.Started != nil {
		w.Header().Set("X-Queue-Time", httpfront.FormatResponseTime(st.Started.Sub(received)))
	}
	if st.ServiceMs > 0 {
		// The job's time on its worker, as a cluster worker's
		// X-Response-Time is: what a bench's ideal and service times read.
		w.Header().Set("X-Response-Time", httpfront.FormatResponseTime(time.Duration(st.ServiceMs*float64(time.Millisecond))))
	}
	if st.State == StateFailed || st.Result == nil {
		f.fail(w, cmp.Or(st.Status, http.StatusInternalServerError), id, errors.New(st.Error))
		return
	}
	if wantImage {
		f.sendImage(w, r, st)
		f.q.uploads.Delete(context.WithoutCancel(r.Context()), outputName(id))
		return
	}
	httpfront.WriteJSON(w, http.StatusOK, FlipResponse{Job: id, Worker: st.Worker, PID: st.PID, Tries: st.Tries,
		QueueMs: st.QueueMs, Result: *st.Result})
}

// drain reads what is left of a request's body, for a few seconds at most.
func drain(w http.ResponseWriter, r *http.Request) {
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, r.Body)
}

func (f *Front) sendImage(w http.ResponseWriter, r *http.Request, st *JobStatus) {
	o, err := f.q.uploads.Get(r.Context(), outputName(st.ID))
	if err != nil {
		f.fail(w, http.StatusInternalServerError, st.ID, fmt.Errorf("flipped image: %w", err))
		return
	}
	defer o.Close()
	if info, err := o.Info(); err == nil {
		w.Header().Set("Content-Length", strconv.FormatUint(info.Size, 10))
	}
	w.Header().Set("Content-Type", "image/"+st.Result.Format)
	w.WriteHeader(http.StatusOK)
	io.Copy(w, o)
}

func (f *Front) handleJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	wantImage, err := server.WantsImage(r)
	if err != nil {
		f.fail(w, http.StatusBadRequest, id, err)
		return
	}
	st, err := f.q.Status(r.Context(), id)
	switch {
	case err != nil:
		f.fail(w, http.StatusInternalServerError, id, err)
		return
	case st == nil:
		f.fail(w, http.StatusNotFound, id, fmt.Errorf("no job %s (records are kept for a while only)", id))
		return
	}
	if st.PID != 0 {
		w.Header().Set("X-Worker-Pid", strconv.Itoa(st.PID))
	}
	if !wantImage {
		httpfront.WriteJSON(w, http.StatusOK, st)
		return
	}
	switch {
	case !st.Ended():
		f.fail(w, http.StatusConflict, id, fmt.Errorf("job %s is %s: no image yet", id, st.State))
	case st.State == StateFailed:
		f.fail(w, cmp.Or(st.Status, http.StatusInternalServerError), id, errors.New(st.Error))
	case !st.Image:
		f.fail(w, http.StatusNotFound, id, fmt.Errorf("job %s kept no image: ask for one with POST /flip?return=image", id))
	default:
		f.sendImage(w, r, st)
	}
}

// handleEvents streams a job's states as Server-Sent Events, one event
// a change (event: queued, running, done or failed; data: the record as
// JSON), and ends after the last.
func (f *Front) handleEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	// Watch first, then look: a change between the two is not lost.
	watcher, err := f.q.records.Watch(ctx, id)
	if err != nil {
		f.fail(w, http.StatusInternalServerError, id, err)
		return
	}
	defer watcher.Stop()
	st, err := f.q.Status(ctx, id)
	switch {
	case err != nil:
		f.fail(w, http.StatusInternalServerError, id, err)
		return
	case st == nil:
		f.fail(w, http.StatusNotFound, id, fmt.Errorf("no job %s", id))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	last := ""
	send := func(st *JobStatus) bool {
		key := fmt.Sprintf("%s/%d", st.State, st.Tries)
		if key != last {
			last = key
			data, _ := json.Marshal(st)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", st.State, data)
			rc.Flush()
		}
		return st.Ended()
	}
	if send(st) {
		return
	}
	for {
		select {
		case e, ok := <-watcher.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var next JobStatus
			if json.Unmarshal(e.Value(), &next) == nil && send(&next) {
				return
			}
		case <-ctx.Done():
			return
		case <-f.stopping:
			return
		}
	}
}

// Health is the body of the front's GET /healthz.
type Health struct {
	// PID is the front's; Mode is "queue"; Reply is wait or async; NATS
	// the broker's URL, password hidden.
	PID   int    `json:"pid"`
	Mode  string `json:"mode"`
	Reply string `json:"reply"`
	NATS  string `json:"nats"`
	// Workers is the local workers the front supervises (remote ones
	// show in Stream.Waiting and in the job records).
	Workers []server.WorkerHealth `json:"workers"`
	// Stream is the stream's and the consumer's state; StreamError says
	// why it could not be read.
	Stream      *Depth `json:"stream,omitempty"`
	StreamError string `json:"stream_error,omitempty"`
	// Queue is this front's jobs no worker has taken yet, QueueLimit its
	// bound, Rejected the 503s since the start.
	Queue      int   `json:"queue"`
	QueueLimit int   `json:"queue_limit"`
	Rejected   int64 `json:"rejected"`
	// Running is the jobs running now; Inflight the POST /flip requests
	// in progress; Accepted the jobs put on the stream since the start;
	// Done and Failed the jobs seen ending.
	Running  int     `json:"running"`
	Inflight int64   `json:"inflight"`
	Accepted int64   `json:"accepted"`
	Done     int64   `json:"done"`
	Failed   int64   `json:"failed"`
	UptimeS  float64 `json:"uptime_s"`
}

func (f *Front) health(ctx context.Context) Health {
	f.mu.Lock()
	h := Health{PID: f.pid, Mode: "queue", Reply: cmp.Or(f.cfg.Reply, ReplyWait), NATS: Redact(f.cfg.NATS),
		Queue: len(f.waiting), QueueLimit: cmp.Or(f.cfg.Queue, server.DefaultQueue), Running: len(f.running)}
	f.mu.Unlock()
	h.Rejected, h.Done, h.Failed = f.stats.counts()
	h.Inflight, h.Accepted = f.inflight.Load(), f.accepted.Load()
	h.UptimeS = float64(time.Since(f.start).Milliseconds()) / 1000
	if f.cfg.Workers != nil {
		h.Workers = f.cfg.Workers()
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if d, err := f.q.Depth(dctx); err != nil {
		h.StreamError = err.Error()
	} else {
		h.Stream = &d
	}
	return h
}

func (f *Front) handleHealth(w http.ResponseWriter, r *http.Request) {
	httpfront.WriteJSON(w, http.StatusOK, f.health(r.Context()))
}
