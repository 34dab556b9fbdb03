package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

type ctxKey int

const receivedKey ctxKey = iota

// timed stamps every response with X-Worker-Pid and X-Response-Time, the
// time from the request reaching the handler to the response headers being
// written, like the article's Koa middleware. Handlers write their headers
// only once the work is done, so for /flip it covers the whole job. A
// connection that a supervisor accepted and handed over also gets
// X-Queue-Time, how long it waited for this worker.
func (s *Server) timed(next http.Handler) http.Handler {
	pid := strconv.Itoa(s.pid)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Worker-Pid", pid)
		received := start
		h := handedOf(r)
		if h != nil {
			// The supervisor accepted it earlier: the wait for a worker
			// is part of the request's queueing.
			received = h.Accepted()
			w.Header().Set("X-Queue-Time", FormatResponseTime(start.Sub(received)))
		}
		tw := &TimedWriter{ResponseWriter: w, Start: start}
		if h != nil {
			tw.OnHeader = h.SetStatus
		}
		next.ServeHTTP(tw, r.WithContext(context.WithValue(r.Context(), receivedKey, received)))
		tw.Finish()
	})
}

func receivedAt(r *http.Request) time.Time {
	t, _ := r.Context().Value(receivedKey).(time.Time)
	return t
}

// TimedWriter is the ResponseWriter of a timed handler, a worker's or a
// queue front's: when the header is written it stamps X-Response-Time,
// the time since Start, unless the handler gave one of its own (a queue
// front gives its job's service time), and tells OnHeader the status.
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
