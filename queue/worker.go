package queue

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/server"
)

// Worker pulls jobs from the queue and runs them, on this machine or any
// other: `flipbench worker --nats URL`.
type Worker struct {
	// URL is the NATS server's, nats://HOST:PORT.
	URL string
	// Auth is the worker's credentials on it.
	Auth broker.Auth
	// Name identifies the worker in job records and logs. Empty means
	// HOST-PID.
	Name string
	// Slots is how many jobs it runs at once. Zero means one per CPU;
	// the CLI's default is [server.DefaultThreads], one.
	Slots int
	// TmpDir is where the worker makes its temporary directory for job
	// files. Empty means the OS temporary directory.
	TmpDir string
	// TempPrefix names that directory (os.MkdirTemp's pattern). Empty
	// means "flipbench-queue-worker-pPID-", and the worker removes at its
	// start what workers of that name killed before it left in TmpDir; a
	// supervised worker uses [server.TempDirPrefix], so that its
	// supervisor cleans up after it.
	TempPrefix string
	// Grace is how long running jobs may finish once ctx is done. Zero
	// means [server.DefaultGrace]. A job cut short is not acknowledged:
	// another worker runs it.
	Grace time.Duration
	// Abort, when closed, stops the worker at once, dropping its jobs
	// (they go to other workers): its supervisor is gone.
	Abort <-chan struct{}
	// Logger receives the worker's events. Nil means no logging.
	Logger *slog.Logger
	// Ready, if set, is called once the worker is connected, has found
	// the queue, and pulls jobs.
	Ready func()
}

func (w *Worker) name() string {
	if w.Name != "" {
		return w.Name
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", cmp.Or(host, "worker"), os.Getpid())
}

func (w *Worker) slots() int {
	if w.Slots == 0 {
		return runtime.NumCPU()
	}
	return w.Slots
}

// Run connects, waits for the queue to exist (a worker may start before
// its front), and runs jobs until ctx is done; then it stops pulling,
// lets running jobs finish within Grace, and returns nil. Stopped before
// it reached its queue, it returns an error wrapping [ErrNotReached].
func (w *Worker) Run(ctx context.Context) error {
	log := cmp.Or(w.Logger, slog.New(slog.DiscardHandler))
	name := w.name()
	abortCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	if w.Abort != nil {
		go func() {
			select {
			case <-w.Abort:
				abort()
			case <-abortCtx.Done():
			}
		}()
	}
	pullCtx, stopPulling := context.WithCancel(ctx)
	defer stopPulling()
	go func() {
		<-abortCtx.Done()
		stopPulling()
	}()

	nc, err := broker.Connect(w.URL, "flipbench worker "+name, w.Auth, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	q, err := w.open(pullCtx, nc, log)
	if err != nil {
		if pullCtx.Err() != nil {
			return notReached(nc, w.URL)
		}
		return err
	}

	dir, err := w.makeTempDir(log)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Running jobs outlive ctx by Grace at most, and Abort cuts them.
	jobCtx, cancelJobs := context.WithCancel(abortCtx)
	defer cancelJobs()
	go w.cutAfterGrace(ctx, jobCtx, cancelJobs)

	log.Info("worker online", "worker", name, "pid", os.Getpid(), "nats", broker.Redact(w.URL),
		"gomaxprocs", runtime.GOMAXPROCS(0), "slots", w.slots(), "ack_wait", q.ackWait.String(), "tries", q.tries)
	if w.Ready != nil {
		w.Ready()
	}
	total, err := w.runSlots(pullCtx, jobCtx, q, name, dir, log)
	if err != nil {
		return err
	}
	log.Info("worker stopped", "worker", name, "pid", os.Getpid(), "served", total)
	return nil
}

// notReached is the error of a front or worker stopped before its queue
// was there: its server never answered, or answered without a queue.
func notReached(nc *nats.Conn, url string) error {
	if !nc.IsConnected() {
		return fmt.Errorf("%w: the NATS server at %s does not answer", ErrNotReached, broker.Redact(url))
	}
	return fmt.Errorf("%w: the NATS server at %s has no flipbench queue (is a flipbench queue front running?)", ErrNotReached, broker.Redact(url))
}

// makeTempDir makes the worker's temporary directory for job files. With
// the default prefix, it first removes what workers of that name killed
// before it left in TmpDir.
func (w *Worker) makeTempDir(log *slog.Logger) (string, error) {
	prefix := w.TempPrefix
	if prefix == "" {
		prefix = fmt.Sprintf("%s%d-", tempPrefix, os.Getpid())
		removeDeadTempDirs(w.TmpDir, log)
	}
	dir, err := os.MkdirTemp(w.TmpDir, prefix)
	if err != nil {
		return "", fmt.Errorf("make temp dir: %w", err)
	}
	return dir, nil
}

// cutAfterGrace cancels the running jobs Grace after ctx is done, so that
// they outlive ctx by Grace at most. It returns at once if jobCtx is done
// first (Abort, or Run returning).
func (w *Worker) cutAfterGrace(ctx, jobCtx context.Context, cancelJobs context.CancelFunc) {
	select {
	case <-ctx.Done():
	case <-jobCtx.Done():
		return
	}
	t := time.NewTimer(cmp.Or(w.Grace, server.DefaultGrace))
	defer t.Stop()
	select {
	case <-t.C:
		cancelJobs()
	case <-jobCtx.Done():
	}
}

// runSlots runs one runner per slot, each with its own Flipper and
// directory in dir, pulling until pullCtx is done and running jobs with
// jobCtx. It blocks until every runner has stopped and returns how many
// jobs they served. If a slot's directory cannot be made, it returns the
// error at once, without waiting: the runners already started stop when
// Run's deferred cancels end their contexts.
func (w *Worker) runSlots(pullCtx, jobCtx context.Context, q *Queue, name, dir string, log *slog.Logger) (int, error) {
	var wg sync.WaitGroup
	var served sync.Map
	for i := range w.slots() {
		f := &server.Flipper{Dir: filepath.Join(dir, fmt.Sprint(i))}
		if err := os.Mkdir(f.Dir, 0o700); err != nil {
			return 0, fmt.Errorf("make temp dir: %w", err)
		}
		r := &runner{q: q, f: f, name: name, pid: os.Getpid(), log: log}
		wg.Go(func() {
			r.loop(pullCtx, jobCtx)
			served.Store(i, r.served)
		})
	}
	wg.Wait()
	total := 0
	served.Range(func(_, v any) bool { total += v.(int); return true })
	return total, nil
}

// open binds to the queue, waiting for a front to set it up.
func (w *Worker) open(ctx context.Context, nc *nats.Conn, log *slog.Logger) (*Queue, error) {
	waiting := false
	for {
		if nc.IsConnected() {
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			q, err := Open(octx, nc)
			cancel()
			if err == nil {
				return q, nil
			}
			if !waiting {
				log.Info("waiting for the queue", "nats", broker.Redact(w.URL), "err", err)
				waiting = true
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// tempPrefix starts the name of a worker's temporary directory, then its
// PID and a dash.
const tempPrefix = "flipbench-queue-worker-p"

// removeDeadTempDirs removes the temporary directories that workers
// killed in the middle of a job (kill -9, the OOM killer) left in parent:
// those whose PID no longer runs. A PID taken since by another process
// keeps its directory, which errs on the safe side.
func removeDeadTempDirs(parent string, log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(cmp.Or(parent, os.TempDir()), tempPrefix+"*-*"))
	for _, d := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), tempPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || !processGone(pid) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			log.Warn("removing a dead worker's temp dir", "dir", d, "err", err)
		} else {
			log.Info("removed a dead worker's temp dir", "dir", d)
		}
	}
}

// runner runs the jobs of one slot.
type runner struct {
	q      *Queue
	f      *server.Flipper
	name   string
	pid    int
	log    *slog.Logger
	served int
}

// loop pulls one job at a time until pullCtx is done: a slot asks for a
// job only when it is free, so the first free worker takes the next.
func (r *runner) loop(pullCtx, jobCtx context.Context) {
	for pullCtx.Err() == nil {
		msg, err := r.q.cons.Next(jetstream.FetchContext(pullCtx))
		if err != nil {
			if pullCtx.Err() != nil {
				return
			}
			if !errors.Is(err, jetstream.ErrNoMessages) && !strings.Contains(err.Error(), "timeout") {
				r.log.Warn("pull", "worker", r.name, "err", err)
				select { // the server may be restarting: do not spin
				case <-pullCtx.Done():
				case <-time.After(250 * time.Millisecond):
				}
			}
			continue
		}
		r.handle(jobCtx, msg)
	}
}

// errSkip means a record was not written: the job had ended already.
var errSkip = errors.New("job already ended")

// guess is what a worker believes a job's record is, to write it without
// reading it first: nil for none, or the record and its revision.
type guess struct {
	cur *JobStatus
	rev uint64
}

// write changes a job's record by compare-and-set: next gets the record
// as it is (nil if none) and returns the new one, or false to leave it.
// It first writes on the strength of g, if given, and reads the record
// only if that was wrong. Of two workers that finish the same job, one
// writes its outcome; the other gets errSkip. It returns the new record's
// revision.
func (q *Queue) write(ctx context.Context, id string, g *guess, next func(cur *JobStatus) (*JobStatus, bool)) (uint64, error) {
	for range 10 {
		var cur *JobStatus
		var rev uint64
		if g != nil {
			cur, rev, g = g.cur, g.rev, nil
		} else {
			var err error
			if cur, rev, err = q.recordThroughElections(ctx, id); err != nil {
				return 0, err
			}
		}
		nv, ok := next(cur)
		if !ok {
			return 0, errSkip
		}
		data, err := json.Marshal(nv)
		if err != nil {
			return 0, err
		}
		// A compare-and-set is safe to try again: a try that landed
		// unanswered fails the next with ErrKeyExists, and the record
		// is read again.
		err = throughElections(ctx, func(ctx context.Context) error {
			var err error
			if cur == nil {
				rev, err = q.records.Create(ctx, id, data)
			} else {
				rev, err = q.records.Update(ctx, id, data, rev)
			}
			return err
		})
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // someone wrote between our read and our write: look again
		}
		if err != nil {
			return 0, fmt.Errorf("job %s: write record: %w", id, err)
		}
		return rev, nil
	}
	return 0, fmt.Errorf("job %s: record keeps changing", id)
}

// handle runs one delivery of a job, in steps: decode the delivery, look
// at the job's record if it was delivered before, record the job as
// running here, run it, and record its outcome (or hand it back for
// another try).
func (r *runner) handle(ctx context.Context, msg jetstream.Msg) {
	spec, tries, ok := r.decode(msg)
	if !ok {
		return
	}
	// Heartbeats from the first look to the end, not only while the job
	// runs: a broker step that rides out an election may take longer
	// than the ack wait, and the job must not go to another worker
	// meanwhile.
	defer r.heartbeats(msg)()
	bctx, cancel := brokerStep(ctx)
	g, ok := r.lookFirst(bctx, msg, spec, tries)
	started := time.Now()
	var running *JobStatus
	var rev uint64
	if ok {
		running, rev, ok = r.take(bctx, msg, spec, tries, g, &started)
	}
	cancel()
	if !ok {
		return
	}
	res, out, err := r.run(ctx, spec, msg.Data())
	if r.handBack(ctx, msg, spec, tries, err) {
		return
	}
	bctx, cancel = brokerStep(ctx)
	defer cancel()
	r.end(bctx, msg, spec, tries, &started, &guess{cur: running, rev: rev}, outcome{res: res, out: out, err: err})
}

// brokerStep bounds the broker's part of one step of a job (look and
// take, or end), which rides out an election of the records' leader
// ([throughElections]) rather than spend one of the job's tries on it:
// a redelivery counts as a try, and three within one election used to
// end a sound job with "gave up after 3 tries" (500). The bound starts
// with the step, not the job, and outlives ctx: a job cut short still
// records what it has to.
func brokerStep(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*brokerRetryFor)
}

// decode reads the job a delivery carries and how many times it was
// delivered. A message that holds no job is dropped (terminated, never
// delivered again), and decode returns false.
func (r *runner) decode(msg jetstream.Msg) (jobSpec, int, bool) {
	var spec jobSpec
	if err := json.Unmarshal([]byte(msg.Headers().Get(specHeader)), &spec); err != nil || spec.ID == "" {
		r.log.Error("job message unreadable, dropping it", "worker", r.name, "subject", msg.Subject(), "err", err)
		msg.Term()
		return jobSpec{}, 0, false
	}
	tries := 1
	if meta, err := msg.Metadata(); err == nil {
		tries = int(meta.NumDelivered)
	}
	return spec, tries, true
}

// lookFirst returns what the worker may take the job's record to be
// before it writes it. It returns false when it dealt with the delivery
// itself: handed it back, acknowledged a job that had ended, or ended a
// job that has had all its tries.
func (r *runner) lookFirst(ctx context.Context, msg jetstream.Msg, spec jobSpec, tries int) (*guess, bool) {
	// A first delivery has no record yet: it is created without a look.
	// A job delivered again is looked at first: it may have ended.
	if tries <= 1 {
		return &guess{}, true
	}
	st, rev, err := r.q.recordThroughElections(ctx, spec.ID)
	if err != nil {
		r.log.Warn("job record unreadable, later", "worker", r.name, "job", spec.ID, "err", err)
		msg.NakWithDelay(time.Second)
		return nil, false
	}
	if st != nil && st.Ended() {
		// Done already (a worker finished and died before it could
		// acknowledge): the result stands, nothing is run twice.
		r.log.Info("job already ended, acknowledging", "worker", r.name, "job", spec.ID, "state", st.State, "try", tries)
		r.cleanup(ctx, spec, msg)
		return nil, false
	}
	g := &guess{cur: st, rev: rev}
	if tries > r.q.tries {
		r.end(ctx, msg, spec, tries, nil, g, http500(fmt.Errorf("gave up after %d tries: each worker that took the job died or stalled", r.q.tries)))
		return nil, false
	}
	return g, true
}

// take records the job as running on this worker since started, by
// compare-and-set from g, unless it has ended already. It returns the
// record written and its revision, the guess for the outcome's write, or
// false when it dealt with the delivery itself (acknowledged an ended
// job, or handed it back).
func (r *runner) take(ctx context.Context, msg jetstream.Msg, spec jobSpec, tries int, g *guess, started *time.Time) (*JobStatus, uint64, bool) {
	running := &JobStatus{ID: spec.ID, State: StateRunning, Worker: r.name, PID: r.pid, Tries: tries,
		Accepted: spec.Accepted, Started: started, QueueMs: msSince(spec.Accepted, *started)}
	rev, err := r.q.write(ctx, spec.ID, g, func(cur *JobStatus) (*JobStatus, bool) {
		if cur != nil && cur.Ended() {
			return nil, false
		}
		return running, true
	})
	if errors.Is(err, errSkip) {
		r.log.Info("job already ended, acknowledging", "worker", r.name, "job", spec.ID, "try", tries)
		r.cleanup(ctx, spec, msg)
		return nil, 0, false
	}
	if err != nil {
		r.log.Warn("job record not written, later", "worker", r.name, "job", spec.ID, "err", err)
		msg.NakWithDelay(time.Second)
		return nil, 0, false
	}
	r.log.Info("job start", "worker", r.name, "pid", r.pid, "job", spec.ID, "try", tries,
		"source", source(spec), "queue_ms", msSince(spec.Accepted, *started))
	return running, rev, true
}

// heartbeats tells the stream that msg's job is in progress, every
// quarter of the ack wait, until the function it returns is called: the
// stream gives the job to another worker only if this one stops saying
// it is still at it.
func (r *runner) heartbeats(msg jetstream.Msg) (stop func()) {
	beat := make(chan struct{})
	go func() {
		t := time.NewTicker(r.q.ackWait / 4)
		defer t.Stop()
		for {
			select {
			case <-beat:
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	}()
	return func() { close(beat) }
}

// handBack gives a job that failed with err back to the stream, when it
// should run again rather than end here, and reports whether it did.
func (r *runner) handBack(ctx context.Context, msg jetstream.Msg, spec jobSpec, tries int, err error) bool {
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopped in the middle: another worker takes it now.
		r.log.Warn("job cut short, handing it back", "worker", r.name, "job", spec.ID, "err", err)
		msg.Nak()
		return true
	case err != nil && server.StatusFor(err) == 500 && tries < r.q.tries:
		// Perhaps this machine's trouble (a full disk): another try.
		r.log.Warn("job failed, trying again", "worker", r.name, "job", spec.ID, "try", tries, "err", err)
		msg.NakWithDelay(time.Second)
		return true
	}
	return false
}

// outcome is how a job ended.
type outcome struct {
	res server.Result
	out []byte // the flipped image, when the client asked for it
	err error
}

func http500(err error) outcome { return outcome{err: err} }

// end records a job's outcome (unless another worker recorded one
// first), acknowledges it and deletes its upload.
func (r *runner) end(ctx context.Context, msg jetstream.Msg, spec jobSpec, tries int, started *time.Time, g *guess, o outcome) {
	finished := time.Now()
	if o.err == nil && o.out != nil {
		if _, err := r.q.uploads.PutBytes(ctx, outputName(spec.ID), o.out); err != nil {
			o.err = fmt.Errorf("keep the flipped image: %w", err)
		}
	}
	_, err := r.q.write(ctx, spec.ID, g, func(cur *JobStatus) (*JobStatus, bool) {
		if cur != nil && cur.Ended() {
			return nil, false
		}
		st := &JobStatus{ID: spec.ID, State: StateDone, Status: 200, Worker: r.name, PID: r.pid, Tries: tries,
			Accepted: spec.Accepted, Started: started, Finished: &finished}
		if started != nil {
			st.QueueMs, st.ServiceMs = msSince(spec.Accepted, *started), msSince(*started, finished)
		}
		if o.err != nil {
			st.State, st.Status, st.Error = StateFailed, server.StatusFor(o.err), o.err.Error()
		} else {
			res := o.res
			st.Result, st.Image = &res, o.out != nil
		}
		return st, true
	})
	switch {
	case errors.Is(err, errSkip):
		r.log.Info("job ended on another worker first, dropping this result", "worker", r.name, "job", spec.ID)
	case err != nil:
		r.log.Warn("job outcome not recorded, later", "worker", r.name, "job", spec.ID, "err", err)
		msg.NakWithDelay(time.Second)
		return
	case o.err != nil:
		r.log.Warn("job failed", "worker", r.name, "pid", r.pid, "job", spec.ID, "status", server.StatusFor(o.err), "err", o.err)
	default:
		r.served++
		r.log.Info("job end", "worker", r.name, "pid", r.pid, "job", spec.ID, "ms", o.res.TotalMs,
			"decode_ms", o.res.DecodeMs, "flip_ms", o.res.FlipMs, "encode_ms", o.res.EncodeMs,
			"bytes", o.res.InputBytes, "size", fmt.Sprintf("%dx%d", o.res.Width, o.res.Height))
	}
	r.cleanup(ctx, spec, msg)
}

// cleanup acknowledges a job whose outcome is recorded and deletes its
// upload. Neither is tried again through an election, and each is bounded
// by one try of its own: an acknowledgement that goes unanswered (its consumer's
// leader was lost) waits for nothing but ctx, and a job whose
// acknowledgement is lost comes back, finds its record ended, and is
// acknowledged then, its upload deleted.
func (r *runner) cleanup(ctx context.Context, spec jobSpec, msg jetstream.Msg) {
	actx, cancel := context.WithTimeout(ctx, brokerTry)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		r.log.Warn("ack", "worker", r.name, "job", spec.ID, "err", err)
	}
	if spec.Upload != "" {
		// A try of its own: an acknowledgement that landed unanswered
		// brings no redelivery to delete the upload later.
		dctx, cancel := context.WithTimeout(ctx, brokerTry)
		defer cancel()
		if err := r.q.uploads.Delete(dctx, spec.Upload); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			r.log.Warn("delete upload", "worker", r.name, "job", spec.ID, "err", err)
		}
	}
}

// run flips the job's source with the slot's Flipper.
func (r *runner) run(ctx context.Context, spec jobSpec, inline []byte) (server.Result, []byte, error) {
	src, err := r.open(ctx, spec, inline)
	if err != nil {
		return server.Result{}, nil, err
	}
	defer src.Close()
	r.f.Quality, r.f.MaxPixels = spec.Quality, spec.MaxPixels
	job := server.Job{Source: src, Received: spec.Accepted}
	var out bytes.Buffer
	if spec.WantImage {
		job.Output = &out
	}
	res, err := r.f.Run(ctx, job)
	if err != nil || !spec.WantImage {
		return res, nil, err
	}
	return res, out.Bytes(), nil
}

// open opens the job's source: the body in its message, its upload, the
// front's image in the object store, or an embedded fixture.
func (r *runner) open(ctx context.Context, spec jobSpec, inline []byte) (io.ReadCloser, error) {
	if spec.Inline {
		return io.NopCloser(bytes.NewReader(inline)), nil
	}
	name := spec.Upload
	if name == "" {
		obj, ok := strings.CutPrefix(spec.Image, "object:")
		if !ok {
			open, err := server.ImageOpener(spec.Image)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", spec.Image, err)
			}
			return open()
		}
		name = obj
	}
	o, err := r.q.uploads.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", name, err)
	}
	return o, nil
}

func msSince(from, to time.Time) float64 {
	return float64(to.Sub(from).Microseconds()) / 1000
}

// source names a job's source in logs.
func source(spec jobSpec) string {
	switch {
	case spec.Inline:
		return "body"
	case spec.Upload != "":
		return "upload"
	}
	return spec.Image
}
