package httpfront

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// WriteJSON answers with code and v as indented JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Error is the JSON body of every error a front answers.
type Error struct {
	// Error says what went wrong; PID is the answering process's.
	Error string `json:"error"`
	PID   int    `json:"pid"`
	// Job is the job's ID, on a queue front, once it has one.
	Job string `json:"job,omitempty"`
}

// WriteError answers with code and err as an [Error].
func WriteError(w http.ResponseWriter, code, pid int, job string, err error) {
	WriteJSON(w, code, Error{Error: err.Error(), PID: pid, Job: job})
}

// RequestBody returns r's body, limited to maxBody bytes, if it has any
// bytes; nil, nil when it has none (the front then flips its own image).
// A body of unknown length (chunked) is peeked at to find out; an error
// then is the body's (a client gone, a body over maxBody).
func RequestBody(w http.ResponseWriter, r *http.Request, maxBody int64) (io.ReadCloser, error) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	if r.ContentLength > 0 {
		return body, nil
	}
	var one [1]byte
	n, err := io.ReadFull(body, one[:])
	if n == 1 {
		return readCloser{io.MultiReader(strings.NewReader(string(one[:])), body), body}, nil
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return nil, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Deadlines of a front's requests: [NewServer]'s defaults.
const (
	// DefaultReadHeaderTimeout bounds how long an accepted connection may
	// hold a job slot before its request headers arrive.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included.
	DefaultReadTimeout = 2 * time.Minute
)

// NewServer returns the HTTP server of a front, a worker's or a queue's,
// for h: a deadline for the request head ([DefaultReadHeaderTimeout]) and
// one for the whole request, body included (readTimeout; zero means
// [DefaultReadTimeout]); net/http's errors to log as warnings; and one
// request a connection, so that a burst's clients are independent, like
// the article's.
func NewServer(h http.Handler, readTimeout time.Duration, log *slog.Logger) *http.Server {
	if readTimeout == 0 {
		readTimeout = DefaultReadTimeout
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       readTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.SetKeepAlivesEnabled(false)
	return srv
}
