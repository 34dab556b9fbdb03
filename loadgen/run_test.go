package loadgen

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/flipbench/flipbench/results"
)

// newCountingServer counts hits and answers after delay, with a fake
// X-Worker-Pid.
func newCountingServer(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(delay) // the server's work, as a flip would take
		w.Header().Set("X-Worker-Pid", "4242")
		w.Write([]byte("ok"))
	}))
	t.Cleanup(ts.Close)
	return ts, &hits
}

func TestRunSendsExactlyN(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 10, 37} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			ts, hits := newCountingServer(t, 0)
			sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: n, Rounds: 2})
			if err != nil {
				t.Fatal(err)
			}
			if got := hits.Load(); got != int64(2*n) {
				t.Errorf("server got %d hits, want %d", got, 2*n)
			}
			if sum.Requests != 2*n || sum.OK != 2*n || len(sum.Results) != 2*n || len(sum.RoundStats) != 2 {
				t.Errorf("summary: requests %d ok %d results %d rounds %d; want %d, %d, %d, 2",
					sum.Requests, sum.OK, len(sum.Results), len(sum.RoundStats), 2*n, 2*n, 2*n)
			}
			for i, r := range sum.Results[:n] {
				if r.Seq != uint64(i) || r.Round != 1 || r.PID != 4242 || r.Status != 200 {
					t.Fatalf("result %d: %+v", i, r)
				}
			}
			if sum.RequestsPerWorker["4242"] != 2*n {
				t.Errorf("workers %v, want 4242: %d", sum.RequestsPerWorker, 2*n)
			}
		})
	}
}

func TestBurstIsConcurrent(t *testing.T) {
	t.Parallel()
	const n, cost = 10, 100 * time.Millisecond
	ts, _ := newCountingServer(t, cost)
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: n})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Results {
		if r.LatencyMs < 100 {
			t.Errorf("request %d took %.1f ms, less than the server's 100 ms", r.Seq, r.LatencyMs)
		}
	}
	// All ten sleep at once: the last answer comes after about one cost,
	// far before ten costs in a row. Half of the serial time leaves room
	// for a slow machine without letting a serial client pass.
	if sum.LastMs >= float64(n)*100/2 {
		t.Errorf("last response at %.1f ms, want well under %d ms: the burst was not concurrent", sum.LastMs, n*100)
	}
	if sum.SendSpreadMs > 50 {
		t.Errorf("sends spread over %.1f ms, want a burst", sum.SendSpreadMs)
	}
}

func TestSerialServerQueuesTheBurst(t *testing.T) {
	t.Parallel()
	const n, cost = 6, 50 * time.Millisecond
	// One request at a time, like a single-threaded worker.
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(cost)
	}))
	defer ts.Close()
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: n})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK != n {
		t.Fatalf("ok %d, want %d", sum.OK, n)
	}
	// The last answer waits for all the others: at least n costs.
	if sum.LastMs < float64(n)*50 {
		t.Errorf("last response at %.1f ms, want >= %d ms for %d serial requests", sum.LastMs, n*50, n)
	}
	if sum.FirstMs < 50 || sum.FirstMs > sum.LastMs/2 {
		t.Errorf("first response at %.1f ms, want about one cost (50 ms) and well before the last (%.1f)", sum.FirstMs, sum.LastMs)
	}
}

func TestFailuresAreCountedByKind(t *testing.T) {
	t.Parallel()
	// A port where nothing listens: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/flip"
	ln.Close()

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close) // the parallel subtests outlive this function's defers
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	reset := newResettingServer(t)

	tests := []struct {
		name    string
		cfg     Config
		kind    string
		status  string
		wantErr int
	}{
		{"refused", Config{URL: refused, Requests: 3}, "refused", "", 3},
		{"http 503", Config{URL: failing.URL, Requests: 4}, "http_503", "503", 4},
		{"timeout", Config{URL: slow.URL, Requests: 2, Timeout: 200 * time.Millisecond}, "timeout", "", 2},
		{"reset", Config{URL: reset, Requests: 2}, "", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sum, err := Run(context.Background(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Errors != tt.wantErr || sum.OK != 0 {
				t.Errorf("errors %d ok %d, want %d and 0", sum.Errors, sum.OK, tt.wantErr)
			}
			if tt.kind != "" && sum.ErrorsByKind[tt.kind] != tt.wantErr {
				t.Errorf("errors by kind %v, want %s: %d", sum.ErrorsByKind, tt.kind, tt.wantErr)
			}
			if tt.kind == "" { // a reset shows as reset or eof, by timing
				if sum.ErrorsByKind["reset"]+sum.ErrorsByKind["eof"] != tt.wantErr {
					t.Errorf("errors by kind %v, want resets or EOFs", sum.ErrorsByKind)
				}
			}
			if tt.status != "" && sum.StatusCodes[tt.status] != tt.wantErr {
				t.Errorf("status codes %v, want %s: %d", sum.StatusCodes, tt.status, tt.wantErr)
			}
			for _, r := range sum.Results {
				if r.Error == "" || r.Kind == "" {
					t.Errorf("failed record without error or kind: %+v", r)
				}
			}
		})
	}
}

// newResettingServer accepts connections and closes them with a TCP RST
// (linger 0) without answering.
func newResettingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1024)
			c.Read(buf) // wait for the request, then reset
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String() + "/flip"
}

func TestCancelReturnsPromptlyWithPartialSummary(t *testing.T) {
	t.Parallel()
	// Two requests answer at once, three hang until the test ends.
	var n atomic.Int64
	release := make(chan struct{})
	defer close(release)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 2 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int64
	cfg := Config{URL: ts.URL, Requests: 5, Rounds: 3, Timeout: time.Minute,
		OnResult: func(results.Record) {
			if done.Add(1) == 2 {
				cancel() // the two quick ones are in: interrupt
			}
		}}
	start := time.Now()
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Run took %s after cancel; want prompt", took)
	}
	if !sum.Interrupted || sum.OK != 2 || len(sum.RoundStats) != 1 {
		t.Errorf("interrupted %v ok %d rounds %d; want true, 2, 1", sum.Interrupted, sum.OK, len(sum.RoundStats))
	}
	if sum.ErrorsByKind["canceled"] != 3 {
		t.Errorf("errors by kind %v, want canceled: 3", sum.ErrorsByKind)
	}
}

func TestRateModeSendsRateTimesDuration(t *testing.T) {
	t.Parallel()
	ts, hits := newCountingServer(t, 0)
	sum, err := Run(context.Background(), Config{URL: ts.URL, Rate: Rate{Freq: 40, Per: time.Second}, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 20 || sum.Requests != 20 {
		t.Errorf("hits %d, requests %d; want exactly 20 (40/s for 0.5 s)", hits.Load(), sum.Requests)
	}
	// Paced, not a burst: the 20th request is sent about 475 ms in.
	if sum.SendSpreadMs < 400 {
		t.Errorf("sends spread over %.1f ms, want about 475 ms", sum.SendSpreadMs)
	}
}

func TestRateModeIsOpenLoop(t *testing.T) {
	t.Parallel()
	// Each request takes 300 ms; arrivals at 20/s must not wait for them.
	ts, _ := newCountingServer(t, 300*time.Millisecond)
	sum, err := Run(context.Background(), Config{URL: ts.URL, Rate: Rate{Freq: 20, Per: time.Second}, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 10 || sum.SendSpreadMs > 1000 {
		t.Errorf("%d requests sent over %.1f ms; want 10 over about 450 ms", sum.Requests, sum.SendSpreadMs)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"bad scheme", Config{URL: "ftp://x/flip"}},
		{"no host", Config{URL: "http:///flip"}},
		{"negative n", Config{Requests: -1}},
		{"too many", Config{Requests: maxRequests + 1}},
		{"rate without duration", Config{Rate: Rate{Freq: 1, Per: time.Second}}},
		{"duration without rate", Config{Duration: time.Second}},
		{"negative timeout", Config{Timeout: -time.Second}},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want an error", tt.name)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v, want valid defaults", err)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Rate
		err  bool
	}{
		{"20/s", Rate{20, time.Second}, false},
		{"20", Rate{20, time.Second}, false},
		{"500/1m", Rate{500, time.Minute}, false},
		{"5/500ms", Rate{5, 500 * time.Millisecond}, false},
		{"0/s", Rate{}, true},
		{"x/s", Rate{}, true},
		{"5/parsec", Rate{}, true},
		{"20/", Rate{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestErrorKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		err    string
		want   string
	}{
		{200, "", ""},
		{504, "504 Gateway Timeout", "http_504"},
		{408, "408 Request Timeout", "http_408"},
		{503, "503 Service Unavailable", "http_503"},
		{0, "dial tcp 127.0.0.1:1: connect: connection refused", "refused"},
		{0, "read tcp: connection reset by peer", "reset"},
		{0, "Post \"http://x\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "timeout"},
		{0, "Post \"http://x\": EOF", "eof"},
		{0, "load interrupted: context canceled", "canceled"},
		{0, "something odd", "other"},
	}
	for _, tt := range tests {
		if got := ErrorKind(tt.status, tt.err); got != tt.want {
			t.Errorf("ErrorKind(%d, %q) = %q, want %q", tt.status, tt.err, got, tt.want)
		}
	}
}

func TestResultsAreVegetaEncoded(t *testing.T) {
	t.Parallel()
	ts, _ := newCountingServer(t, 0)
	var buf bytes.Buffer
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: 7, Rounds: 3, Results: &buf})
	if err != nil {
		t.Fatal(err)
	}
	dec := vegeta.NewDecoder(&buf)
	var seqs []uint64
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("vegeta's decoder: %v", err)
		}
		if r.Code != 200 || r.Method != "POST" || r.URL != ts.URL || r.Latency <= 0 || r.Timestamp.IsZero() {
			t.Errorf("decoded result %+v", r)
		}
		seqs = append(seqs, r.Seq)
	}
	slices.Sort(seqs)
	if len(seqs) != sum.Requests || len(seqs) != 21 {
		t.Fatalf("decoded %d results, want 21", len(seqs))
	}
	for i, s := range seqs {
		if s != uint64(i) {
			t.Fatalf("sequence numbers %v: want 0..20 without gaps", seqs)
		}
	}
}

// TestQueueTimeSplitsLatency: a server that says how long each request
// waited (X-Queue-Time) gets its latency split into wait and service.
func TestQueueTimeSplitsLatency(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond) // longer than the wait it reports
		w.Header().Set("X-Queue-Time", "2.5ms")
	}))
	defer ts.Close()
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Results {
		if r.QueueMs != 2.5 {
			t.Errorf("request %d: queue %v ms, want 2.5 from X-Queue-Time", r.Seq, r.QueueMs)
		}
	}
	if sum.WaitMs == nil || sum.WaitMs.P50 != 2.5 || sum.ServiceMs == nil || math.Abs(sum.ServiceMs.Max-(sum.LatencyMs.Max-2.5)) > 0.001 {
		t.Errorf("wait %+v service %+v, want wait 2.5 ms and service the latency less 2.5 ms (latency %+v)", sum.WaitMs, sum.ServiceMs, sum.LatencyMs)
	}
	plain, err := Run(context.Background(), Config{URL: newPlainServer(t), Requests: 2})
	if err != nil {
		t.Fatal(err)
	}
	if plain.WaitMs != nil || plain.ServiceMs != nil {
		t.Errorf("a server without X-Queue-Time: wait %+v service %+v, want none", plain.WaitMs, plain.ServiceMs)
	}
}

// TestResponseTimeIsTheJob: the server's X-Response-Time, in flipbench's
// and Koa's "12.3ms" form, is each request's job time; other forms are
// not guessed at.
func TestResponseTimeIsTheJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		header string
		want   float64
	}{{"12.5ms", 12.5}, {"7ms", 7}, {" 3.25 ms", 3.25}, {"0.012s", 0}, {"NaNms", 0}, {"-1ms", 0}, {"", 0}} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.header != "" {
				w.Header().Set("X-Response-Time", tt.header)
			}
		}))
		sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: 1})
		ts.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := sum.Results[0].JobMs; got != tt.want {
			t.Errorf("X-Response-Time %q: job %v ms, want %v", tt.header, got, tt.want)
		}
	}
}

func newPlainServer(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(ts.Close)
	return ts.URL
}
