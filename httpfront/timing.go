package httpfront

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Timing is the middleware of every front ([Timing.Wrap]): it stamps each
// response with X-Worker-Pid and X-Response-Time, the time from the
// request reaching the handler to the response headers being written,
// like the article's Koa middleware. Handlers write their headers only
// once the work is done, so for a flip it covers the whole job.
type Timing struct {
	// PID is the X-Worker-Pid of every response, unless a handler names
	// another (a queue front names the worker that flipped).
	PID int
	// Arrival, if set, tells when a request arrived before the handler
	// saw it (a connection that a cluster's supervisor accepted and
	// handed over, which then also gets X-Queue-Time: how long it waited
	// for this worker), and whom to tell its response's status; ok false
	// means it arrived as the handler saw it.
	Arrival func(r *http.Request) (arrived time.Time, status func(code int), ok bool)
	// Status, if set, is told every response's status (a front's
	// metrics).
	Status func(code int)
}

type receivedKey struct{}

// Wrap returns next with the timing.
func (t Timing) Wrap(next http.Handler) http.Handler {
	pid := strconv.Itoa(t.PID)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Worker-Pid", pid)
		tw := &TimedWriter{ResponseWriter: w, Start: start, OnHeader: t.Status}
		received := start
		if t.Arrival != nil {
			if arrived, status, ok := t.Arrival(r); ok {
				// Accepted earlier: the wait for a worker is part of the
				// request's queueing.
				received = arrived
				w.Header().Set("X-Queue-Time", FormatResponseTime(start.Sub(arrived)))
				tw.OnHeader = both(status, t.Status)
			}
		}
		next.ServeHTTP(tw, r.WithContext(context.WithValue(r.Context(), receivedKey{}, received)))
		tw.Finish()
	})
}

// both calls each of fs that is not nil; nil if none is.
func both(fs ...func(int)) func(int) {
	var set []func(int)
	for _, f := range fs {
		if f != nil {
			set = append(set, f)
		}
	}
	if len(set) == 0 {
		return nil
	}
	return func(code int) {
		for _, f := range set {
			f(code)
		}
	}
}

// Received is when r arrived, as the [Timing] middleware saw it; now for
// a request that did not come through it.
func Received(r *http.Request) time.Time {
	t, _ := r.Context().Value(receivedKey{}).(time.Time)
	return cmp.Or(t, time.Now())
}

// TimedWriter is the ResponseWriter of a timed handler: when the header
// is written it stamps X-Response-Time, the time since Start, unless the
// handler gave one of its own (a queue front gives its job's service
// time), and tells OnHeader the status.
type TimedWriter struct {
	http.ResponseWriter
	Start time.Time
	// OnHeader, if set, is called once, with the status, as the header
	// is written.
	OnHeader    func(code int)
	wroteHeader bool
}

func (w *TimedWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if w.Header().Get("X-Response-Time") == "" {
			w.Header().Set("X-Response-Time", FormatResponseTime(time.Since(w.Start)))
		}
		if w.OnHeader != nil {
			w.OnHeader(code)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *TimedWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Finish writes the header of a handler that wrote nothing (a 200 with
// no body), so that it too is stamped and counted.
func (w *TimedWriter) Finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
}

// Unwrap lets http.ResponseController reach the connection (to flush
// Server-Sent Events, to set deadlines).
func (w *TimedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FormatResponseTime formats d as the X-Response-Time header value, in
// milliseconds with one decimal, like "1234.5ms".
func FormatResponseTime(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
