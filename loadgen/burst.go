package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// burst sends n requests for tgt released together, and returns their
// results as vegeta's attacker would: one *vegeta.Result each, numbered
// from 0 in the order they were sent, the channel closed after the last.
//
// vegeta's attacker hands its workers one tick at a time from a pacer
// loop, and each worker builds its request after taking its timestamp,
// so the last of a burst of 100 left about twice as long after the first
// (send_spread_ms) as it does here. Here every request is built, its
// connection opened, and the transport has set the connection up and
// written the request into its buffer before any is sent: the write to
// the socket waits at a gate ([sendGate]). Closing one channel releases
// them all, and each request's time is taken at its gate, so that what
// separates the first from the last is the sending itself, one system
// call each: not the kernel's connection set-up (about 100 µs of system
// time a connection, most of a burst's spread on 2 CPUs before it was
// moved ahead of the release), nor the transport's (a reader, a writer
// and two goroutines a connection, on memory a fresh process has never
// touched: a one-shot `load -n 100` reached its server over 9 ms before
// it was moved ahead too). Over TLS the gate holds the handshake's first
// message, so an https burst still shakes hands after its release. The
// requests' timeout runs from the release ([ctxTransport.requestContext]).
//
// The connections are opened first (as wrk does), not kept: each request
// still has a connection of its own, closed after its answer. A server
// sees the same connections in the same order, a few milliseconds before
// their requests: a cluster's workers are picked as before (when the
// request head arrives under free, when the connection is accepted under
// rr, shared and reuseport), and a burst's requests reach them together.
// What changes is that a burst's latencies count from the send, without
// the connection set-up (tens of microseconds on loopback). The release
// waits at most preconnectWait for the connections: a request whose
// connection is slower (a server that does not accept, a full backlog)
// is sent as soon as it has one, late, its offset saying so.
//
// A burst given an instant at (a load agent's, shared with other
// machines) is readied first ([prewarm]), opens its connections from
// SetupTime before at, and is released at at, connected or not. It
// returns when the requests are released, with the time of the release:
// the round's start, from which their offsets count, so that building
// and connecting a large burst does not count as waiting for its
// answers. If ctx is done before the release, nothing is sent and the
// channel is closed empty.
func burst(ctx context.Context, client *http.Client, tgt vegeta.Target, n int, name string, at time.Time) (<-chan *vegeta.Result, time.Time) {
	if !at.IsZero() {
		// Connections opened long before their requests would count as
		// waiting at a server that times its queue from the accept.
		setup := at.Add(-SetupTime(n))
		prewarm(ctx, client, n, setup)
		waitUntil(ctx, setup)
	}
	// Buffered, so that each goroutine and its stack are gone as soon as
	// its request is: a large burst's peak memory is what is in flight.
	b := &burstState{client: client, name: name, method: tgt.Method, url: tgt.URL,
		results: make(chan *vegeta.Result, n), release: make(chan struct{})}
	b.ct, b.preconnect = client.Transport.(ctxTransport)
	b.gated = b.preconnect && n <= gateMax
	dialCtx, endDials := ctx, func() {}
	if !at.IsZero() && b.preconnect {
		// Released at its instant connected or not: a connect still
		// pending is given up at the instant and the request timeout
		// (the dialer's own limit is 10 s); the request, once
		// connected, has its timeout from its send.
		dialCtx, endDials = context.WithDeadlineCause(ctx, at.Add(b.ct.timeout), b.ct.cause)
	}
	var wg sync.WaitGroup
	wg.Add(n)
	b.connected.Add(n)
	for i := range n {
		req, err := tgt.Request()
		if err == nil {
			req.Header.Set("X-Vegeta-Attack", name)
			// Its place in the burst as built: the headers are written
			// before the release, and a result's Seq is its place in the
			// order of the sends.
			req.Header.Set("X-Vegeta-Seq", strconv.Itoa(i))
		}
		go func() {
			defer wg.Done()
			b.send(dialCtx, req, err)
		}()
	}
	allConnected := make(chan struct{})
	go func() {
		b.connected.Wait()
		close(allConnected)
	}()
	wait := time.NewTimer(preconnectWait)
	if !at.IsZero() {
		// At an instant shared with other machines the burst goes at
		// it: a connection not ready holds back only its own request.
		wait.Reset(time.Until(at))
	}
	select {
	case <-allConnected:
	case <-wait.C:
	case <-ctx.Done():
	}
	wait.Stop()
	waitUntil(ctx, at)
	b.canceled = ctx.Err() != nil // read by each goroutine after the close: no race
	released := time.Now()
	close(b.release)
	go func() {
		wg.Wait()
		endDials()
		close(b.results)
	}()
	return b.results, released
}

// SetupTime is how long a burst of n is given to open its connections
// and set its requests up before an instant it is to be released at
// ([Config.Start]): 20 ms, and 150 µs a request. Three agents, warmed
// up ([prewarm]), setting up 100 each at once on 2 CPUs took 17-60 ms;
// a request whose connection is not ready at the instant is sent when it
// is, late. The connections wait that long for their requests: a server
// that times its queue from the accept (flipbench's rr and free) counts
// it, which is why this is not longer.
func SetupTime(n int) time.Duration {
	return 20*time.Millisecond + time.Duration(n)*150*time.Microsecond
}

// gateMax is the largest burst whose requests are set up in the
// transport before the release. A request set up and waiting holds its
// connection's reader, writer and two goroutines: for a burst of 10,000
// at a 100 ms handler the peak memory went from 260 to 317 MB. Larger
// bursts are connected first, and set up as they are sent.
const gateMax = 1000

// preconnectWait bounds how long a burst waits for its connections
// before it releases its requests. Connecting 10,000 to a local server
// takes about a second here.
const preconnectWait = 5 * time.Second

// burstState is what the requests of one burst share.
type burstState struct {
	client            *http.Client
	name, method, url string
	ct                ctxTransport
	preconnect        bool // client's transport is a ctxTransport
	gated             bool // requests wait at a sendGate (bursts of up to gateMax)
	canceled          bool // set before release is closed

	release   chan struct{}
	results   chan *vegeta.Result
	connected sync.WaitGroup // the requests not yet ready to go

	mu  sync.Mutex
	seq uint64
}

// send sends one request of the burst, built beforehand (or not:
// buildErr), once it is released, and delivers its result.
func (b *burstState) send(ctx context.Context, req *http.Request, buildErr error) {
	ready := sync.OnceFunc(b.connected.Done)
	defer ready()
	res := &vegeta.Result{Attack: b.name, Method: b.method, URL: b.url}
	if buildErr == nil && b.preconnect {
		req = b.ct.preconnect(ctx, req)
		if b.gated && gateSend(&req, &sendGate{release: b.release, parked: ready, b: b, res: res}) {
			// Through the transport now: everything but the write
			// itself happens before the release.
			b.do(req, res)
			ready()
			b.deliver(res)
			return
		}
	}
	ready()
	<-b.release
	switch {
	case b.canceled:
		closeDialed(req)
	case buildErr != nil:
		b.stamp(res)
		res.Error = buildErr.Error()
		b.results <- res
	default:
		b.stamp(res)
		b.do(req, res)
		b.results <- res
	}
}

// deliver hands res on once the burst is released, unless it was
// canceled first. A request that failed before its write gets its
// send time now, and no latency.
func (b *burstState) deliver(res *vegeta.Result) {
	<-b.release
	if b.canceled {
		return
	}
	b.stamp(res)
	b.results <- res
}

// stamp gives res its send time and sequence number, once. Sequence
// numbers follow the timestamps, as in vegeta: both are taken under one
// lock, so a later seq never has an earlier time.
func (b *burstState) stamp(res *vegeta.Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !res.Timestamp.IsZero() {
		return
	}
	res.Timestamp = time.Now()
	res.Seq = b.seq
	b.seq++
}

// sentAt is res's send time, zero before it is stamped.
func (b *burstState) sentAt(res *vegeta.Result) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return res.Timestamp
}

// do sends req and fills in res with the fields vegeta's Attacker.hit
// sets, and BytesIn the whole body's size: the body itself is read and
// thrown away. res's send time is stamped by then, or when the request
// is written (a gated send).
func (b *burstState) do(req *http.Request, res *vegeta.Result) {
	resp, err := b.client.Do(req)
	sent := b.sentAt(res)
	switch {
	case err != nil:
		res.Error = err.Error()
		if !sent.IsZero() { // else it failed before its write: no latency
			res.Latency = time.Since(sent)
		}
		return
	case sent.IsZero():
		// A server may answer a connection before it reads (a stopping
		// worker's 503): the request never left, and has no latency.
		resp.Body.Close()
		res.Error = "answered before the request was sent: " + resp.Status
		return
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	res.Latency = time.Since(sent) // after Close, as vegeta's deferred calls run
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.BytesIn = uint64(n)
	if req.ContentLength != -1 {
		res.BytesOut = uint64(req.ContentLength)
	}
	if res.Code = uint16(resp.StatusCode); res.Code < 200 || res.Code >= 400 {
		res.Error = resp.Status
	}
	res.Headers = resp.Header
}

// sendGate holds a request's first write on its connection until the
// burst's release: the transport sets up the connection (its reader,
// writer and goroutines) and writes the request into its buffer before
// the release, and only the system call that sends it waits for it. The
// request's send time is taken there.
type sendGate struct {
	release <-chan struct{}
	parked  func() // tells the burst the request waits at the gate
	b       *burstState
	res     *vegeta.Result
	once    sync.Once
	err     error
	// arm starts the request's timeout, set by the transport
	// (ctxTransport.requestContext): it runs from the release, not from
	// the wait for it.
	arm func()
}

// pass waits for the release and stamps the request's send time; a
// burst canceled before its release fails the write instead.
func (g *sendGate) pass() {
	g.parked()
	<-g.release
	if g.b.canceled {
		g.err = errBurstCanceled
		return
	}
	if g.arm != nil {
		g.arm()
	}
	g.b.stamp(g.res)
}

var errBurstCanceled = errors.New("burst canceled before its release")

// gatedConn is a connection whose first write waits at its gate.
type gatedConn struct {
	net.Conn
	gate *sendGate
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.gate.once.Do(c.gate.pass)
	if c.gate.err != nil {
		return 0, c.gate.err
	}
	return c.Conn.Write(p)
}

// gateKey is the context key of a request's sendGate.
type gateKey struct{}

// gateSend puts g on the connection preconnect dialed for *req, and in
// its context, and reports whether there is one.
func gateSend(req **http.Request, g *sendGate) bool {
	d, ok := (*req).Context().Value(dialedKey{}).(*dialed)
	if !ok || d.conn == nil {
		return false
	}
	d.conn = &gatedConn{Conn: d.conn, gate: g}
	*req = (*req).WithContext(context.WithValue((*req).Context(), gateKey{}, g))
	return true
}

// closeDialed closes the connection opened for req, if any, when req is
// not sent after all.
func closeDialed(req *http.Request) {
	if req == nil {
		return
	}
	if d, ok := req.Context().Value(dialedKey{}).(*dialed); ok && d.take() && d.conn != nil {
		d.conn.Close()
	}
}
