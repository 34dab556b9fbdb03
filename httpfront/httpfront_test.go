package httpfront

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		waiting, slots int
		job            time.Duration
		want           int
	}{
		{"nothing waits: at least a second", 0, 2, 100 * time.Millisecond, 1},
		{"three wait on two slots of 2 s", 3, 2, 2 * time.Second, 4},
		{"no slot counts as one", 1, 0, time.Second, 2},
		{"rounded up", 0, 1, 1500 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetryAfter(tt.waiting, tt.slots, tt.job); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRequestBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    io.Reader
		length  int64
		want    string // "" and nil body: none
		none    bool
		wantErr bool
	}{
		{"no body", nil, 0, "", true, false},
		{"a body of known length", strings.NewReader("abc"), 3, "abc", false, false},
		{"a chunked body", strings.NewReader("abc"), -1, "abc", false, false},
		{"an empty chunked body", strings.NewReader(""), -1, "", true, false},
		{"a chunked body that fails", io.MultiReader(&failing{}), -1, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/flip", tt.body)
			r.ContentLength = tt.length
			if tt.body == nil {
				r.Body = http.NoBody
			}
			body, err := RequestBody(httptest.NewRecorder(), r, 1<<20)
			if (err != nil) != tt.wantErr || (body == nil) != tt.none {
				t.Fatalf("got body %v, err %v; want none %v, error %v", body, err, tt.none, tt.wantErr)
			}
			if body != nil {
				b, _ := io.ReadAll(body)
				if string(b) != tt.want {
					t.Errorf("read %q, want %q", b, tt.want)
				}
			}
		})
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestTiming: every response gets X-Worker-Pid and X-Response-Time and
// its status is told; a handed request's arrival is when it was accepted,
// told as X-Queue-Time and to the handler, and its status goes to both.
func TestTiming(t *testing.T) {
	t.Parallel()
	var told, handed []int
	accepted := time.Now().Add(-1500 * time.Millisecond)
	var received time.Time
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received = Received(r)
		if r.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
	})
	timing := Timing{PID: 42, Status: func(c int) { told = append(told, c) }}
	timing.Arrival = func(r *http.Request) (time.Time, func(int), bool) {
		if r.Header.Get("Handed") == "" {
			return time.Time{}, nil, false
		}
		return accepted, func(c int) { handed = append(handed, c) }, true
	}
	srv := timing.Wrap(h)

	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Header().Get("X-Worker-Pid") != "42" || !strings.HasSuffix(w.Header().Get("X-Response-Time"), "ms") || w.Header().Get("X-Queue-Time") != "" {
		t.Errorf("plain request: headers %v", w.Header())
	}
	if time.Since(received) > time.Minute {
		t.Errorf("plain request received %v", received)
	}

	w = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/teapot", nil)
	r.Header.Set("Handed", "1")
	srv.ServeHTTP(w, r)
	if !received.Equal(accepted) || !strings.HasPrefix(w.Header().Get("X-Queue-Time"), "15") {
		t.Errorf("handed request: received %v (want %v), X-Queue-Time %q", received, accepted, w.Header().Get("X-Queue-Time"))
	}
	if want := []int{200, 418}; !slices.Equal(told, want) {
		t.Errorf("statuses told %v, want %v", told, want)
	}
	if want := []int{418}; !slices.Equal(handed, want) {
		t.Errorf("statuses handed back %v, want %v", handed, want)
	}
}

// TestMetrics: the names every front serves, and the recent job time
// that Retry-After reads.
func TestMetrics(t *testing.T) {
	t.Parallel()
	m := NewMetrics(MetricsConfig{QueueLength: func() float64 { return 3 }, Restarts: func() float64 { return 2 }})
	if m.RecentJob() != time.Second {
		t.Errorf("recent job before any: %v, want 1s", m.RecentJob())
	}
	m.JobDone(800 * time.Millisecond)
	m.JobDone(1600 * time.Millisecond)
	if got := m.RecentJob(); got != 900*time.Millisecond {
		t.Errorf("recent job %v, want 900ms (800ms, then an eighth of the way to 1.6s)", got)
	}
	m.Answered(200)
	m.Reject()
	m.Waited(time.Second)
	if m.Rejected() != 1 {
		t.Errorf("rejected %d, want 1", m.Rejected())
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`flipbench_requests_total{code="200"} 1`, "flipbench_job_seconds_count 2",
		"flipbench_queue_wait_seconds_count 1", "flipbench_rejected_total 1", "flipbench_queue_length 3",
		"flipbench_worker_restarts_total 2", "go_goroutines"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("/metrics without %q", want)
		}
	}
}
