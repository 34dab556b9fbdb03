package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestBurstNumbersInSendOrder: every request carries vegeta's headers,
// its round's name and its own sequence number, and the numbers follow
// the send times (no later number with an earlier time).
func TestBurstNumbersInSendOrder(t *testing.T) {
	t.Parallel()
	const n = 25
	var mu sync.Mutex
	seen := map[string][]int{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seq, err := strconv.Atoi(r.Header.Get("X-Vegeta-Seq"))
		if err != nil {
			http.Error(w, "no seq", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seen[r.Header.Get("X-Vegeta-Attack")] = append(seen[r.Header.Get("X-Vegeta-Attack")], seq)
	}))
	defer ts.Close()
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: n, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK != 2*n {
		t.Fatalf("ok %d, want %d (%v)", sum.OK, 2*n, sum.ErrorsByKind)
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	for _, round := range []string{"round-1", "round-2"} {
		got := slices.Sorted(slices.Values(seen[round]))
		if !slices.Equal(got, want) {
			t.Errorf("%s: server saw sequence numbers %v, want 0..%d once each", round, got, n-1)
		}
	}
	for i := 1; i < len(sum.Results); i++ {
		a, b := sum.Results[i-1], sum.Results[i]
		if a.Round == b.Round && b.SentMs < a.SentMs {
			t.Errorf("round %d: request %d sent at %.3f ms, before request %d at %.3f ms", b.Round, b.Seq, b.SentMs, a.Seq, a.SentMs)
		}
	}
}

// TestBurstCountsTheWholeBody: the body is read and thrown away, but its
// size is that of the whole answer, without Content-Length too (vegeta
// would count only the part it keeps).
func TestBurstCountsTheWholeBody(t *testing.T) {
	t.Parallel()
	const size = 50_000
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), size/10)
		for range 10 {
			w.Write(chunk)
			w.(http.Flusher).Flush() // chunked: no Content-Length
		}
	}))
	defer ts.Close()
	var buf bytes.Buffer
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: 3, Results: &buf})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Results {
		if r.Bytes != size || !r.OK() {
			t.Errorf("request %d: %d bytes, status %d; want %d, 200", r.Seq, r.Bytes, r.Status, size)
		}
	}
	dec := vegeta.NewDecoder(&buf)
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if r.BytesIn != size || len(r.Body) != 0 {
			t.Errorf("encoded result %d: bytes in %d, body %d bytes; want %d and none", r.Seq, r.BytesIn, len(r.Body), size)
		}
	}
}

// TestBurstConnectsBeforeRelease: every connection of a burst is open
// before the burst is released, one a request, and each is closed after
// its answer.
func TestBurstConnectsBeforeRelease(t *testing.T) {
	t.Parallel()
	const n = 20
	ts, _, open := newConnCountingServer(t, func(http.ResponseWriter, *http.Request) {})
	client := newClient(context.Background(), Config{URL: ts.URL}, n)
	ct := client.Transport.(ctxTransport)
	var mu sync.Mutex
	var connected []time.Time
	dial := ct.dial
	ct.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		mu.Lock()
		connected = append(connected, time.Now())
		mu.Unlock()
		return c, err
	}
	client.Transport = ct
	results, released := burst(context.Background(), client, vegeta.Target{Method: "GET", URL: ts.URL}, n, "round-1", time.Time{})
	ok := 0
	for r := range results {
		if r.Code == 200 {
			ok++
		}
	}
	if ok != n || len(connected) != n {
		t.Fatalf("ok %d, connections %d; want %d of each", ok, len(connected), n)
	}
	for i, c := range connected {
		if c.After(released) {
			t.Errorf("connection %d opened %s after the release, want before", i, c.Sub(released))
		}
	}
	waitAllClosed(t, open)
}

// TestBurstCanceledBeforeReleaseSendsNothing: a burst whose ctx is done
// by the time its requests are ready sends none of them.
func TestBurstCanceledBeforeReleaseSendsNothing(t *testing.T) {
	t.Parallel()
	ts, hits := newCountingServer(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := Config{URL: ts.URL}
	client := newClient(context.Background(), cfg, 5)
	defer client.CloseIdleConnections()
	n := 0
	results, _ := burst(ctx, client, vegeta.Target{Method: "GET", URL: ts.URL}, 5, "round-1", time.Time{})
	for range results {
		n++
	}
	if n != 0 || hits.Load() != 0 {
		t.Errorf("%d results, %d hits; want none", n, hits.Load())
	}
}

// TestNoLegacyCancelGoroutines: a request in flight costs the client no
// goroutine of http.Client.Timeout's fallback (a timer goroutine in
// setRequestCancel and another in awaitLegacyCancel), in a burst or at a
// rate. The timeout is the transport's.
func TestNoLegacyCancelGoroutines(t *testing.T) {
	t.Parallel()
	const n = 8
	for _, mode := range []string{ModeBurst, ModeRate} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			arrived := make(chan struct{}, n)
			release := make(chan struct{})
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				<-release
			}))
			defer ts.Close()
			cfg := Config{URL: ts.URL, Requests: n, Timeout: time.Minute}
			if mode == ModeRate {
				cfg.Requests, cfg.Rate, cfg.Duration = 0, Rate{Freq: 100, Per: time.Second}, n*10*time.Millisecond
			}
			done := make(chan error, 1)
			go func() {
				_, err := Run(context.Background(), cfg)
				done <- err
			}()
			for range n {
				<-arrived // every request is in flight, held by the server
			}
			buf := make([]byte, 8<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"net/http.setRequestCancel", "net/http.awaitLegacyCancel"} {
				c := 0
				for _, g := range strings.Split(stacks, "\n\n") {
					if strings.Contains(g, f) {
						c++
					}
				}
				if c > 0 {
					t.Errorf("%d goroutines in %s with %d requests in flight, want none", c, f, n)
				}
			}
		})
	}
}

// TestTimeoutCoversTheBody: a request whose answer starts in time but
// whose body does not end within the timeout fails as a timeout, in a
// burst and at a rate, and its error says so.
func TestTimeoutCoversTheBody(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("a start"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	}))
	t.Cleanup(ts.Close)
	for _, cfg := range []Config{
		{URL: ts.URL, Requests: 2, Timeout: 200 * time.Millisecond},
		{URL: ts.URL, Rate: Rate{Freq: 20, Per: time.Second}, Duration: 100 * time.Millisecond, Timeout: 200 * time.Millisecond},
	} {
		t.Run(cfg.Mode(), func(t *testing.T) {
			t.Parallel()
			sum, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Errors != 2 || sum.ErrorsByKind["timeout"] != 2 {
				t.Errorf("errors %d by kind %v, want 2 timeouts", sum.Errors, sum.ErrorsByKind)
			}
			for _, r := range sum.Results {
				if !strings.Contains(r.Error, "timeout (200ms)") {
					t.Errorf("request %d: error %q, want it to name the 200ms timeout", r.Seq, r.Error)
				}
			}
		})
	}
}

// TestDialFirst: without keep-alive the transport gets the connection
// that RoundTrip dialed for the request, once; a second dial for it (a
// retry) or a dial for another address dials anew.
func TestDialFirst(t *testing.T) {
	t.Parallel()
	var dials []string
	ct := ctxTransport{dial: func(_ context.Context, network, addr string) (net.Conn, error) {
		dials = append(dials, addr)
		c, _ := net.Pipe()
		return c, nil
	}}
	d := &dialed{addr: "127.0.0.1:80"}
	d.conn, _ = net.Pipe()
	ctx := context.WithValue(context.Background(), dialedKey{}, d)
	if c, err := ct.dialContext(ctx, "tcp", "127.0.0.1:80"); err != nil || c != d.conn {
		t.Errorf("first dial: got %v, %v; want the connection dialed first", c, err)
	}
	if c, _ := ct.dialContext(ctx, "tcp", "127.0.0.1:80"); c == d.conn || len(dials) != 1 {
		t.Errorf("second dial: got the first connection again, or no dial (%v)", dials)
	}
	d2 := &dialed{addr: "127.0.0.1:80"}
	ctx2 := context.WithValue(context.Background(), dialedKey{}, d2)
	if _, err := ct.dialContext(ctx2, "tcp", "127.0.0.2:80"); err != nil || d2.taken.Load() || len(dials) != 2 {
		t.Errorf("another address: taken %v, dials %v; want a dial of its own", d2.taken.Load(), dials)
	}
	for _, tt := range []struct{ url, want string }{
		{"http://127.0.0.1:3000/flip", "127.0.0.1:3000"},
		{"http://localhost/flip", "localhost:80"},
		{"https://[::1]/flip", "[::1]:443"},
	} {
		u, _ := url.Parse(tt.url)
		if got := dialAddr(u); got != tt.want {
			t.Errorf("dialAddr(%s) = %s, want %s", tt.url, got, tt.want)
		}
	}
}

// TestSendGateHoldsTheWriteUntilTheRelease: a gated connection's first
// write waits for the burst's release and takes the request's send time
// there; a burst canceled before its release fails the write instead,
// and nothing reaches the wire.
func TestSendGateHoldsTheWriteUntilTheRelease(t *testing.T) {
	t.Parallel()
	for _, canceled := range []bool{false, true} {
		client, server := net.Pipe()
		defer server.Close()
		b := &burstState{release: make(chan struct{})}
		res := &vegeta.Result{}
		parked := make(chan struct{})
		c := &gatedConn{Conn: client, gate: &sendGate{release: b.release, parked: sync.OnceFunc(func() { close(parked) }), b: b, res: res}}
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			wrote <- err
			client.Close()
		}()
		<-parked
		select {
		case err := <-wrote:
			t.Fatalf("the write went before the release: %v", err)
		default:
		}
		b.canceled = canceled
		released := time.Now()
		close(b.release)
		got, _ := io.ReadAll(server)
		err := <-wrote
		switch {
		case canceled && (!errors.Is(err, errBurstCanceled) || len(got) != 0 || !res.Timestamp.IsZero()):
			t.Errorf("canceled: write %v, %q on the wire, sent at %v; want errBurstCanceled, nothing, no time", err, got, res.Timestamp)
		case !canceled && (err != nil || string(got) != "GET / HTTP/1.1\r\n\r\n" || res.Timestamp.Before(released)):
			t.Errorf("released: write %v, %q on the wire, sent %v after the release; want the request, timed at its gate",
				err, got, res.Timestamp.Sub(released))
		}
	}
}
