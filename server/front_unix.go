//go:build linux || darwin

package server

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/flipbench/flipbench/httpfront"
)

// maxHeadBytes bounds a request head the supervisor reads under free;
// a longer one gets 431.
const maxHeadBytes = 16 << 10

// maxReading bounds the connections whose head the supervisor reads at
// once under free: with maxHeadBytes each, 64 MiB at the most, whatever
// a flood of idle connections. Past it a new connection gets 503.
const maxReading = 4096

// pending is an accepted connection that no worker has yet.
type pending struct {
	conn     *net.TCPConn
	read     []byte    // what the supervisor read of it: the head, under free
	accepted time.Time // when it was accepted
}

// frontWorker is the front's view of one worker index.
type frontWorker struct {
	index    int
	pid      int
	uc       *net.UnixConn // nil while no process of it is ready
	inflight int           // handed over and not reported done
	served   int64
	restarts int
	rr       []*pending // rr: waiting for this worker, in turn
}

// front is the supervisor's side of the rr and free policies: it accepts
// every connection on the cluster's socket and hands each to a worker.
// Under free it first reads the request head under a deadline, answers
// /healthz and /metrics itself, and queues the rest, first come first
// served, until a worker has a free slot; under rr it hands each
// connection to the next worker in turn, busy or not. Waiting is bounded
// by queue; past it the answer is 503 with Retry-After.
type front struct {
	sched  string
	policy policy
	slots  int
	queue  int
	log    *slog.Logger
	stats  *httpfront.Metrics
	admin  *chanListener // connections for the supervisor's own HTTP server

	mu       sync.Mutex
	workers  []*frontWorker
	waiting  []*pending // free: in arrival order
	next     int        // rr: the worker whose turn it is
	wake     chan struct{}
	stopping bool                  // no more dispatch: what comes gets 503
	reading  map[*pending]struct{} // free: heads being read

	replies sync.WaitGroup // rejections being written, and heads being read
}

// newFront makes the front of c.
func (c *Cluster) newFront() *front {
	f := &front{sched: c.sched(), policy: policyFor(c.sched()), slots: cmp.Or(c.Config.Threads, runtime.NumCPU()), queue: c.queue(),
		log: c.logger(), admin: newChanListener(), wake: make(chan struct{}, 1), reading: map[*pending]struct{}{}}
	for i := range c.workers() {
		f.workers = append(f.workers, &frontWorker{index: i})
	}
	f.stats = httpfront.NewMetrics(httpfront.MetricsConfig{
		QueueLength: func() float64 {
			f.mu.Lock()
			defer f.mu.Unlock()
			return float64(f.queued())
		},
		Restarts: func() float64 {
			f.mu.Lock()
			defer f.mu.Unlock()
			n := 0
			for _, w := range f.workers {
				n += w.restarts
			}
			return float64(n)
		},
	})
	return f
}

// handler serves the supervisor's own endpoints: GET /healthz, its view
// of the cluster, and GET /metrics, in the Prometheus text format.
func (f *front) handler(start time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := f.health(start)
		code := http.StatusOK
		if h.Stopping {
			code = http.StatusServiceUnavailable
		}
		httpfront.WriteJSON(w, code, h)
	})
	mux.Handle("GET /metrics", f.stats.Handler())
	return mux
}

// run accepts on ln and dispatches until ctx is done. Then it stops:
// what waits gets 503, and so does every connection that comes until
// until is done (the last worker has stopped), and those left queued on
// ln then: closing ln would reset them. It returns when all are answered;
// until must be done after ctx.
func (f *front) run(ctx, until context.Context, ln *net.TCPListener, health http.Handler) {
	srv := &http.Server{Handler: health, ReadHeaderTimeout: time.Second}
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve(f.admin)
	defer shutdownAdmin(srv)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		f.dispatch(ctx)
	}()
	stopped := make(chan struct{})
	go func() {
		<-ctx.Done()
		f.stop()
		close(stopped)
	}()
	unblocked := make(chan struct{})
	go func() {
		<-until.Done()
		ln.SetDeadline(time.Now()) // unblock Accept without closing ln, which Run does not own
		close(unblocked)
	}()
	f.accept(until, ln)
	<-unblocked // so that answerBacklog's deadlines are the last set
	answerBacklog(ln)
	// Every rejection is counted in f.replies before the wait: stop's,
	// and a handoff that failed as its worker stopped, requeued.
	<-stopped
	<-dispatched
	f.replies.Wait()
}

// accept admits the connections on ln until until is done.
func (f *front) accept(until context.Context, ln *net.TCPListener) {
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			if until.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			f.log.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		f.policy.admit(f, &pending{conn: conn, accepted: time.Now()})
	}
}

// shutdownAdmin stops the supervisor's own HTTP server, letting a
// /healthz or /metrics under way finish for a second at most.
func shutdownAdmin(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		srv.Close()
	}
}

// stop answers 503 to every request no worker has taken, and to those
// whose head is still arriving; what comes after is answered 503 as it
// comes: a graceful stop leaves no client with a reset.
func (f *front) stop() {
	f.mu.Lock()
	f.stopping = true
	waiting := f.waiting
	f.waiting = nil
	for _, w := range f.workers {
		waiting, w.rr = append(waiting, w.rr...), nil
	}
	for p := range f.reading {
		p.conn.SetReadDeadline(time.Now()) // readHead sees stopping and answers
	}
	f.mu.Unlock()
	for _, p := range waiting {
		f.reject(p, http.StatusServiceUnavailable, "stopping")
	}
}

// lockUnlessStopping takes f.mu and returns true; during a stop it
// answers p 503 instead and returns false, with f.mu not held.
func (f *front) lockUnlessStopping(p *pending) bool {
	f.mu.Lock()
	if !f.stopping {
		return true
	}
	f.mu.Unlock()
	f.reject(p, http.StatusServiceUnavailable, "stopping")
	return false
}

// enqueue puts p in line for a worker, or rejects it when the line is
// full.
func (f *front) enqueue(p *pending) {
	if !f.lockUnlessStopping(p) {
		return
	}
	if f.queued() >= f.queue {
		f.mu.Unlock()
		f.reject(p, http.StatusServiceUnavailable, "queue full")
		return
	}
	f.policy.wait(f, p, false)
	f.mu.Unlock()
	f.poke()
}

// queued is how many requests wait for a worker: under free in the
// supervisor's queue, under rr in the workers' queues (and in the
// supervisor's while no worker is ready). Call with f.mu held.
func (f *front) queued() int {
	n := len(f.waiting)
	for _, w := range f.workers {
		n += len(w.rr)
	}
	return n
}

// nextReady returns the worker whose turn it is under rr, nil if none is
// ready. Call with f.mu held.
func (f *front) nextReady() *frontWorker {
	for range f.workers {
		w := f.workers[f.next]
		f.next = (f.next + 1) % len(f.workers)
		if w.uc != nil {
			return w
		}
	}
	return nil
}

// dispatch hands waiting connections to workers with a free slot until
// ctx is done: under free the oldest waiting one to the least busy
// worker; under rr each worker's own queue, in order. A worker is handed
// a connection only when it can take it, so nothing waits in a worker
// that could die or be replaced with it.
func (f *front) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		for {
			f.mu.Lock()
			w, p := f.policy.next(f)
			if w == nil {
				f.mu.Unlock()
				break
			}
			w.inflight++
			uc := w.uc
			f.mu.Unlock()
			if !alive(p) {
				f.release(w, uc)
				continue // the client left while it waited: no job for it
			}
			if err := f.send(uc, p); err != nil {
				f.broken(w, uc)
				f.requeue(p)
			}
		}
	}
}

// broken stops handing connections to a worker whose handoff socket
// failed (it died, and its exit is not reaped yet): detach will follow.
func (f *front) broken(w *frontWorker, uc *net.UnixConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.uc == uc {
		w.uc, w.inflight = nil, 0
		f.redistribute(w)
	}
}

// requeue puts back a connection whose handoff failed, first in line for
// the next worker; during a stop it is answered 503 instead.
func (f *front) requeue(p *pending) {
	if !f.lockUnlessStopping(p) {
		return
	}
	defer f.mu.Unlock()
	f.policy.wait(f, p, true)
	f.poke()
}

// freeWorker returns the ready worker with the most free slots, nil if
// every one is busy. Call with f.mu held.
func (f *front) freeWorker() *frontWorker {
	var best *frontWorker
	for _, w := range f.workers {
		if w.uc != nil && w.inflight < f.slots && (best == nil || w.inflight < best.inflight) {
			best = w
		}
	}
	return best
}

// release undoes a handoff that did not happen.
func (f *front) release(w *frontWorker, uc *net.UnixConn) {
	f.mu.Lock()
	if w.uc == uc {
		w.inflight--
	}
	f.mu.Unlock()
}

// send hands p to the worker behind uc and closes the supervisor's copy.
func (f *front) send(uc *net.UnixConn, p *pending) error {
	err := sendConn(uc, p.conn, p.accepted, p.read)
	if err != nil {
		return err
	}
	f.stats.Waited(time.Since(p.accepted))
	p.conn.Close()
	return nil
}

// reject answers p with code itself and closes it, in a goroutine of its
// own: a client slow to read its 503 must not hold up the accept loop.
// run waits for the answers.
func (f *front) reject(p *pending, code int, why string) {
	f.replies.Go(func() { f.answer(p, code, why) })
}

func (f *front) answer(p *pending, code int, why string) {
	if p.read == nil {
		// Nothing was read yet (rr, or free past maxReading): read the
		// head first, for a client that gets its answer before it has
		// sent its request takes it for a broken connection. (Free's
		// head that did not come in time is not waited for again.)
		readHeadQuietly(p.conn)
	}
	if code == http.StatusServiceUnavailable {
		f.stats.Reject()
	}
	f.stats.Answered(code)
	headers := "X-Queue-Time: " + httpfront.FormatResponseTime(time.Since(p.accepted)) + "\r\n"
	if code == http.StatusServiceUnavailable {
		headers += "Retry-After: " + strconv.Itoa(f.retryAfter()) + "\r\n"
	}
	rawAnswer(p.conn, code, why, headers)
}

// retryAfter estimates, in whole seconds, when a rejected client may find
// room: the queue's length times the recent job time, over the slots.
func (f *front) retryAfter() int {
	f.mu.Lock()
	q, slots := f.queued(), f.slots*len(f.workers)
	f.mu.Unlock()
	return httpfront.RetryAfter(q, slots, f.stats.RecentJob())
}

// attach makes a ready worker process take connections; uc is the
// supervisor's end of its handoff socket.
func (f *front) attach(index, pid int, uc *net.UnixConn, restarted bool) {
	f.mu.Lock()
	w := f.workers[index]
	w.pid, w.uc, w.inflight = pid, uc, 0
	if restarted {
		w.restarts++
	}
	f.policy.attached(f)
	f.mu.Unlock()
	go f.readDone(w, uc)
	f.poke()
}

// detach stops handing connections to a worker process that is stopping
// or gone. Under rr, what waited for it goes to the others in turn.
func (f *front) detach(index int, uc *net.UnixConn) {
	defer uc.Close() // also when a newer process took its place: no fd left behind
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.workers[index]
	if w.uc != uc {
		return
	}
	w.uc, w.inflight = nil, 0
	f.redistribute(w)
}

// redistribute moves what waited for w to the others in turn, or back to
// the supervisor's queue while none is ready: the total waiting does not
// change, so nobody is turned away. Call with f.mu held.
func (f *front) redistribute(w *frontWorker) {
	orphans := w.rr
	w.rr = nil
	for _, p := range orphans {
		if next := f.nextReady(); next != nil {
			next.rr = append(next.rr, p)
		} else {
			f.waiting = append(f.waiting, p)
		}
	}
	f.poke()
}

// readDone reads the worker's reports of closed connections until its
// socket closes.
func (f *front) readDone(w *frontWorker, uc *net.UnixConn) {
	buf := make([]byte, 64)
	for {
		n, err := uc.Read(buf)
		if err != nil {
			return
		}
		d, ok := parseDone(buf[:n])
		if !ok {
			continue
		}
		f.mu.Lock()
		if w.uc == uc && w.inflight > 0 {
			w.inflight--
		}
		w.served++
		f.mu.Unlock()
		if d.Status != 0 {
			f.stats.Answered(d.Status)
		}
		f.stats.JobDone(d.Held)
		f.poke()
	}
}

func (f *front) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// health is the supervisor's view, for /healthz.
func (f *front) health(start time.Time) SupervisorHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := SupervisorHealth{PID: os.Getpid(), Sched: f.sched, Queue: f.queued(), QueueLimit: f.queue,
		Rejected: f.stats.Rejected(), UptimeS: float64(time.Since(start).Milliseconds()) / 1000, Stopping: f.stopping}
	for _, w := range f.workers {
		state := "ready"
		if w.uc == nil {
			state = "down"
		} else if w.inflight >= f.slots {
			state = "busy"
		}
		h.Workers = append(h.Workers, WorkerHealth{Index: w.index, PID: w.pid, State: state,
			Inflight: w.inflight, Served: w.served, Restarts: w.restarts})
	}
	return h
}
