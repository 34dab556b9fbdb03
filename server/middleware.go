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
		tw := &timedWriter{ResponseWriter: w, start: start, handed: h}
		next.ServeHTTP(tw, r.WithContext(context.WithValue(r.Context(), receivedKey, received)))
	})
}

func receivedAt(r *http.Request) time.Time {
	t, _ := r.Context().Value(receivedKey).(time.Time)
	return t
}

type timedWriter struct {
	http.ResponseWriter
	start       time.Time
	handed      handed // nil unless a supervisor handed the connection over
	wroteHeader bool
}

func (w *timedWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.Header().Set("X-Response-Time", FormatResponseTime(time.Since(w.start)))
		if w.handed != nil {
			w.handed.SetStatus(code)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *timedWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *timedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FormatResponseTime formats d as the X-Response-Time header value, in
// milliseconds with one decimal, like "1234.5ms".
func FormatResponseTime(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
