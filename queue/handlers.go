package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/flipbench/flipbench/httpfront"
	"github.com/flipbench/flipbench/server"
)

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
