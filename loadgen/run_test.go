package loadgen

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
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

// TestBurstIsConcurrent: the requests of a burst are all in flight at
// once. Each handler waits until all n have arrived: a burst sent one
// request after another would never get there, and the test's safety
// timeout would end it with errors.
func TestBurstIsConcurrent(t *testing.T) {
	t.Parallel()
	const n = 10
	var arrived atomic.Int64
	all := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: n, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK != n || arrived.Load() != n {
		t.Errorf("ok %d, arrived %d; want all %d in flight together (errors: %v)", sum.OK, arrived.Load(), n, sum.ErrorsByKind)
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
	// One at a time: the k-th answer cannot come before k costs from the
	// release (every request arrives after it). Client-side gaps between
	// answers are no bound: a late read of one answer narrows the next gap.
	ends := make([]float64, 0, n)
	for _, r := range sum.Results {
		ends = append(ends, r.EndMs)
	}
	slices.Sort(ends)
	for i, end := range ends {
		if want := float64((i+1)*50) - 0.01; end < want {
			t.Errorf("answer %d came %.1f ms after the release, want >= %d costs (%.0f ms): not served one at a time", i+1, end, i+1, want)
		}
	}
}

func TestFailuresAreCountedByKind(t *testing.T) {
	t.Parallel()
	refused := "http://" + refusingAddr(t) + "/flip"

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

// newTwoThenHangServer answers its first two requests at once; the others
// hang until they are cancelled or the test ends.
func newTwoThenHangServer(t *testing.T) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 2 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() {
		close(release)
		ts.Close()
	})
	return ts
}

func TestCancelReturnsPromptlyWithPartialSummary(t *testing.T) {
	t.Parallel()
	// Two requests answer at once, three hang until the test ends.
	ts := newTwoThenHangServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int64
	cfg := Config{URL: ts.URL, Requests: 5, Rounds: 3, Timeout: time.Minute,
		OnResult: func(results.Record) {
			if done.Add(1) == 2 {
				cancel() // the two quick ones are in: interrupt
			}
		}}
	// Prompt: the three that hang are cut short as canceled; had Run
	// waited for them, they would have ended as timeouts a minute on.
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.OK != 2 || len(sum.RoundStats) != 1 {
		t.Errorf("interrupted %v ok %d rounds %d; want true, 2, 1", sum.Interrupted, sum.OK, len(sum.RoundStats))
	}
	if got := countKind(sum.Results, "canceled"); got != 3 {
		t.Errorf("%d records of kind canceled, want 3", got)
	}
}

func countKind(recs []results.Record, kind string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind {
			n++
		}
	}
	return n
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
	var inFlight, most atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		time.Sleep(300 * time.Millisecond)
	}))
	defer ts.Close()
	sum, err := Run(context.Background(), Config{URL: ts.URL, Rate: Rate{Freq: 20, Per: time.Second}, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Arrivals every 50 ms, each served for 300 ms: an open loop has
	// several in flight at once; a closed one would wait for each answer.
	if sum.Requests != 10 || most.Load() < 2 {
		t.Errorf("%d requests, at most %d in flight at once; want 10, several at once", sum.Requests, most.Load())
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	sec := time.Second
	perSec := Rate{Freq: 1, Per: time.Second}
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" for any error
	}{
		{"bad scheme", Config{URL: "ftp://x/flip"}, ""},
		{"no host", Config{URL: "http:///flip"}, ""},
		{"negative n", Config{Requests: -1}, ""},
		{"too many", Config{Requests: maxRequests + 1}, ""},
		{"rate without duration", Config{Rate: perSec}, ""},
		{"duration without rate", Config{Duration: sec}, "duration needs a rate or a concurrency"},
		{"negative timeout", Config{Timeout: -sec}, ""},
		{"negative concurrency", Config{Concurrency: -1, Duration: sec}, "concurrency must be > 0, got -1"},
		{"too much concurrency", Config{Concurrency: maxRequests + 1, Duration: sec}, "concurrency must be <= 100000"},
		{"concurrency with rate", Config{Concurrency: 2, Rate: perSec, Duration: sec}, "rate and concurrency: give one"},
		{"concurrency with requests", Config{Concurrency: 2, Requests: 5, Duration: sec}, "requests and concurrency: give one"},
		{"concurrency without duration", Config{Concurrency: 2}, "concurrency needs a duration > 0"},
		{"empty header name", Config{Header: http.Header{"": {"x"}}}, "header: empty name"},
		{"space in header name", Config{Header: http.Header{"X Token": {"x"}}}, `header "X Token": invalid character ' ' in the name`},
		{"colon in header name", Config{Header: http.Header{"X-Token:": {"x"}}}, "invalid character ':'"},
		{"newline in header value", Config{Header: http.Header{"X-Token": {"a\r\nX-Evil: 1"}}}, "control character '\\r' in the value"},
		{"ca cert not pem", Config{CACert: []byte("not a certificate")}, "ca cert: no PEM certificate found"},
		{"ca cert bad der", Config{CACert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})}, "ca cert: certificate 1: x509:"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil {
			t.Errorf("%s: Validate() = nil, want an error", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
	for _, cfg := range []Config{
		{},
		{Concurrency: 3, Duration: sec},
		{Concurrency: maxRequests, Duration: sec},
		{Header: http.Header{"x-token": {"a\tb"}, "Host": {"flip.example"}, "User-Agent": {""}}},
		{URL: "https://127.0.0.1:8443/flip", Insecure: true, CACert: []byte{}},
	} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("%+v: %v, want valid", cfg, err)
		}
	}
}

func TestMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "burst"},
		{Config{Requests: 5}, "burst"},
		{Config{Rate: Rate{Freq: 5, Per: time.Second}, Duration: time.Second}, "rate"},
		{Config{Concurrency: 5, Duration: time.Second}, "closed"},
	}
	for _, tt := range tests {
		if got := tt.cfg.Mode(); got != tt.want {
			t.Errorf("%+v: Mode() = %q, want %q", tt.cfg, got, tt.want)
		}
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
		{0, `Post "http://nosuch.invalid/flip": dial tcp: lookup nosuch.invalid: no such host`, "dns"},
		{0, `Post "https://127.0.0.1:1/flip": tls: failed to verify certificate: x509: certificate signed by unknown authority`, "tls"},
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
	var seqs []uint64
	for _, r := range decodeVegeta(t, &buf) {
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

// TestHeadersOnEveryRequest: Config.Header reaches the server on every
// request, whatever the spelling of its names; a Host entry sets the
// request's Host and a User-Agent entry replaces the default.
func TestHeadersOnEveryRequest(t *testing.T) {
	t.Parallel()
	type seen struct{ host, token, agent string }
	var mu sync.Mutex
	var got []seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{r.Host, r.Header.Get("X-Token"), r.UserAgent()})
	}))
	defer ts.Close()

	tests := []struct {
		name   string
		header http.Header
		want   seen
	}{
		{"none", nil, seen{host: ts.Listener.Addr().String(), agent: "flipbench"}},
		{"token and host", http.Header{"X-Token": {"abc"}, "Host": {"flip.example:8080"}},
			seen{host: "flip.example:8080", token: "abc", agent: "flipbench"}},
		{"lower case, own agent", http.Header{"x-token": {"def"}, "host": {"other.example"}, "user-agent": {"mine/1"}},
			seen{host: "other.example", token: "def", agent: "mine/1"}},
	}
	for _, tt := range tests {
		mu.Lock()
		got = nil
		mu.Unlock()
		sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: 3, Rounds: 2, Header: tt.header})
		if err != nil {
			t.Fatal(err)
		}
		if sum.OK != 6 {
			t.Errorf("%s: ok %d, want 6 (errors by kind %v)", tt.name, sum.OK, sum.ErrorsByKind)
		}
		mu.Lock()
		if len(got) != 6 {
			t.Errorf("%s: server saw %d requests, want 6", tt.name, len(got))
		}
		for i, g := range got {
			if g != tt.want {
				t.Errorf("%s: request %d: got %+v, want %+v", tt.name, i, g, tt.want)
			}
		}
		mu.Unlock()
	}
}

// TestClosedLoopKeepsConcurrencyClients: in closed mode the server sees
// exactly Concurrency requests in flight at most, and reaches it, for
// about Duration.
func TestClosedLoopKeepsConcurrencyClients(t *testing.T) {
	t.Parallel()
	const c, du = 4, 500 * time.Millisecond
	var inFlight, most, hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		time.Sleep(10 * time.Millisecond) // the server's work
	}))
	defer ts.Close()
	// A safety net: a closed loop that ignored Duration would never end.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var totals []int
	start := time.Now()
	sum, err := Run(ctx, Config{URL: ts.URL, Concurrency: c, Duration: du,
		Progress: func(p Progress) { totals = append(totals, p.Total) }})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Interrupted {
		t.Fatal("the run hit the test's 30 s safety timeout: Duration did not end it")
	}
	if m := most.Load(); m != c {
		t.Errorf("at most %d requests in flight, want exactly %d", m, c)
	}
	if took < du {
		t.Errorf("the run took %s, want at least its duration, %s", took, du)
	}
	if sum.Mode != "closed" || sum.Concurrency != c || sum.Duration != "500ms" || sum.Rate != "" {
		t.Errorf("mode %q concurrency %d duration %q rate %q; want closed, %d, 500ms, none", sum.Mode, sum.Concurrency, sum.Duration, sum.Rate, c)
	}
	// Each client sent several requests, one after the other.
	if n := int(hits.Load()); sum.Requests != n || sum.N != n || sum.OK != n || n < 2*c {
		t.Errorf("requests %d, n %d, ok %d, server hits %d; want them equal and >= %d", sum.Requests, sum.N, sum.OK, n, 2*c)
	}
	// That the duration ends the sending is the safety net's check above:
	// a loop that ignored it would run until the context's 30 s.
	if len(totals) != sum.Requests || slices.ContainsFunc(totals, func(n int) bool { return n != 0 }) {
		t.Errorf("%d progress calls with totals %v, want %d, all 0 (unknown)", len(totals), slices.Compact(totals), sum.Requests)
	}
}

// TestClosedLoopRounds: N is the requests a round sent, and the rounds'
// records add up.
func TestClosedLoopRounds(t *testing.T) {
	t.Parallel()
	ts, hits := newCountingServer(t, 5*time.Millisecond)
	sum, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: 2, Duration: 100 * time.Millisecond, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.RoundStats) != 2 || sum.Requests != int(hits.Load()) {
		t.Fatalf("rounds %d, requests %d, hits %d; want 2 rounds and every hit", len(sum.RoundStats), sum.Requests, hits.Load())
	}
	r1, r2 := sum.RoundStats[0].Requests, sum.RoundStats[1].Requests
	if want := (r1 + r2 + 1) / 2; sum.N != want {
		t.Errorf("n %d, want the mean of %d and %d, %d", sum.N, r1, r2, want)
	}
}

// TestKeepAlive: without keep-alive every request opens a connection of
// its own; with it a closed loop's clients reuse theirs. Either way no
// connection is left open after Run.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	const c = 3 // more than http.Transport's default of 2 idle connections a host
	for _, keep := range []bool{false, true} {
		t.Run("keepalive="+strconv.FormatBool(keep), func(t *testing.T) {
			t.Parallel()
			ts, opened, open := newConnCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(time.Millisecond) // the server's work, and a bound on the request count
			})
			sum, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: c, Duration: 300 * time.Millisecond, KeepAlive: keep})
			if err != nil {
				t.Fatal(err)
			}
			n, conns := sum.Requests, int(opened.Load())
			if sum.OK != n || n < 5*c {
				t.Fatalf("ok %d of %d requests, want all of at least %d", sum.OK, n, 5*c)
			}
			if !keep && conns != n {
				t.Errorf("%d connections for %d requests, want one each", conns, n)
			}
			if keep && conns > 2*c {
				t.Errorf("%d connections for %d requests from %d clients, want at most %d", conns, n, c, 2*c)
			}
			waitAllClosed(t, open)
		})
	}
}

// TestTLS: an https target with a certificate of its own fails without
// either option, and works with Insecure or with its certificate as
// CACert.
func TestTLS(t *testing.T) {
	t.Parallel()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "want TLS", http.StatusBadRequest)
		}
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	ts.StartTLS()
	t.Cleanup(ts.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newTestCert(t)})

	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"no option", Config{}, false},
		{"another ca", Config{CACert: otherPEM}, false},
		{"insecure", Config{Insecure: true}, true},
		{"ca cert", Config{CACert: caPEM}, true},
		{"ca cert, kept alive", Config{CACert: caPEM, KeepAlive: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.URL, cfg.Requests = ts.URL, 3
			sum, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ok {
				if sum.OK != 3 {
					t.Errorf("ok %d, want 3 (errors by kind %v, first %+v)", sum.OK, sum.ErrorsByKind, sum.Results[0])
				}
				return
			}
			if sum.OK != 0 || sum.Errors != 3 {
				t.Errorf("ok %d errors %d, want 0 and 3", sum.OK, sum.Errors)
			}
			for _, r := range sum.Results {
				if !strings.Contains(r.Error, "certificate") || r.Kind == "" || r.Kind == "canceled" {
					t.Errorf("request %d: kind %q error %q, want a certificate failure", r.Seq, r.Kind, r.Error)
				}
			}
		})
	}
}

// newTestCert returns a self-signed certificate, DER, that vouches for
// 127.0.0.1 but is not the test server's.
func newTestCert(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "another ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCanceledRequestsLeftOutOfResults: the requests a cancelled run cuts
// short keep their records, as "canceled", but stay out of the vegeta
// results stream and out of Progress.Errors.
func TestCanceledRequestsLeftOutOfResults(t *testing.T) {
	t.Parallel()
	// Two requests answer at once, three block until released (never).
	ts := newTwoThenHangServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	var last Progress
	var onResult []results.Record
	cfg := Config{URL: ts.URL, Requests: 5, Timeout: time.Minute, Results: &buf,
		OnResult: func(r results.Record) {
			if onResult = append(onResult, r); len(onResult) == 2 {
				cancel() // the two quick ones are in: interrupt
			}
		},
		Progress: func(p Progress) { last = p }}
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || len(sum.Results) != 5 || countKind(sum.Results, "canceled") != 3 || sum.OK != 2 {
		t.Fatalf("interrupted %v, %d records, %d canceled, %d ok; want true, 5, 3, 2",
			sum.Interrupted, len(sum.Results), countKind(sum.Results, "canceled"), sum.OK)
	}
	for _, r := range sum.Results {
		if r.Kind == "canceled" && strings.Count(r.Error, errInterrupted.Error()) != 1 {
			t.Errorf("request %d: error %q, want %q once", r.Seq, r.Error, errInterrupted)
		}
	}
	if countKind(onResult, "canceled") != 3 {
		t.Errorf("OnResult saw %d canceled records, want 3", countKind(onResult, "canceled"))
	}
	if last.Done != 5 || last.Errors != 0 || last.Canceled != 3 {
		t.Errorf("last progress %+v, want done 5, errors 0, canceled 3", last)
	}
	var okSeqs []uint64
	for _, r := range sum.Results {
		if r.OK() {
			okSeqs = append(okSeqs, r.Seq)
		}
	}
	var seqs []uint64
	for _, r := range decodeVegeta(t, &buf) {
		if r.Code != 200 || r.Error != "" {
			t.Errorf("results stream has request %d: code %d error %q; want only the answered ones", r.Seq, r.Code, r.Error)
		}
		seqs = append(seqs, r.Seq)
	}
	slices.Sort(seqs)
	if !slices.Equal(seqs, okSeqs) {
		t.Errorf("results stream has requests %v, want the answered ones %v", seqs, okSeqs)
	}
}

// newConnCountingServer serves handler and counts the connections opened
// and those still open.
func newConnCountingServer(t *testing.T, handler http.HandlerFunc) (ts *httptest.Server, opened, open *atomic.Int64) {
	t.Helper()
	opened, open = new(atomic.Int64), new(atomic.Int64)
	ts = httptest.NewUnstartedServer(handler)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, opened, open
}

// waitAllClosed polls, to a deadline of 5 s, until no connection is open.
func waitAllClosed(t *testing.T, open *atomic.Int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling, to the deadline
	}
	if o := open.Load(); o != 0 {
		t.Errorf("%d connections still open 5 s after the load, want none", o)
	}
}

// decodeVegeta reads a results stream with vegeta's own decoder.
func decodeVegeta(t *testing.T, r io.Reader) []vegeta.Result {
	t.Helper()
	dec := vegeta.NewDecoder(r)
	var v []vegeta.Result
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err == io.EOF {
			return v
		} else if err != nil {
			t.Fatalf("vegeta's decoder: %v", err)
		}
		v = append(v, res)
	}
}

// TestStartHoldsTheFirstRoundUntilItsInstant: a burst is released, and a
// rate run begins, at Config.Start and not before: no request reaches the
// server earlier, OnStart is told the instant, and a second round does
// not wait for it; the burst's [prewarm] is not sent to the server.
func TestStartHoldsTheFirstRoundUntilItsInstant(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeBurst, ModeRate} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var first time.Time
			var seen int
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if first.IsZero() {
					first = time.Now()
				}
				seen++
				mu.Unlock()
			}))
			t.Cleanup(ts.Close)
			start := time.Now().Add(300 * time.Millisecond)
			var starts []time.Time
			cfg := Config{URL: ts.URL, Method: "GET", Requests: 5, Rounds: 2, Start: start,
				OnStart: func(_ int, at time.Time) { starts = append(starts, at) }}
			if mode == ModeRate {
				cfg.Requests, cfg.Rate, cfg.Duration = 0, Rate{Freq: 50, Per: time.Second}, 100*time.Millisecond
			}
			if _, err := Run(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if first.Before(start) {
				t.Errorf("the first request arrived %s before the start", start.Sub(first))
			}
			if mode == ModeBurst && seen != 10 {
				t.Errorf("the server saw %d requests, want the two rounds' 10 (the burst's warm-up goes to a server of its own)", seen)
			}
			if len(starts) != 2 || starts[0].Before(start) || starts[0].Sub(start) > 100*time.Millisecond {
				t.Fatalf("OnStart got %v, want 2 rounds, the first at %v (or just after)", starts, start)
			}
			if starts[1].Sub(starts[0]) > 2*time.Second {
				t.Errorf("the second round began %s after the first: it waited", starts[1].Sub(starts[0]))
			}
		})
	}
}
