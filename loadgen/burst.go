package loadgen

import (
	"context"
	"io"
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
// connection opened and its goroutine waiting before any is sent;
// closing one channel releases them all, and each request's time is
// taken just before client.Do, so that what separates the first from the
// last is the sending itself: writing the requests, not the kernel's
// connection set-up, which on 2 CPUs took most of a burst's spread
// (about 100 µs of system time a connection).
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
// It returns when the requests are released, with the time of the
// release: the round's start, from which their offsets count, so that
// building and connecting a large burst does not count as waiting for
// its answers. If ctx is done before the release, nothing is sent and
// the channel is closed empty.
func burst(ctx context.Context, client *http.Client, tgt vegeta.Target, n int, name string) (<-chan *vegeta.Result, time.Time) {
	// Buffered, so that each goroutine and its stack are gone as soon as
	// its request is: a large burst's peak memory is what is in flight.
	results := make(chan *vegeta.Result, n)
	release := make(chan struct{})
	b := &burstState{client: client, name: name, method: tgt.Method, url: tgt.URL}
	ct, preconnect := client.Transport.(ctxTransport)
	var wg, connected sync.WaitGroup
	wg.Add(n)
	connected.Add(n)
	b.sending.Add(n)
	for range n {
		req, err := tgt.Request()
		if err == nil {
			req.Header.Set("X-Vegeta-Attack", name)
		}
		go func() {
			defer wg.Done()
			defer b.sending.Done()
			if err == nil && preconnect {
				req = ct.preconnect(ctx, req)
			}
			connected.Done()
			<-release
			if b.canceled {
				closeDialed(req)
				return
			}
			results <- b.hit(req, err)
		}()
	}
	allConnected := make(chan struct{})
	go func() {
		connected.Wait()
		close(allConnected)
	}()
	wait := time.NewTimer(preconnectWait)
	select {
	case <-allConnected:
	case <-wait.C:
	case <-ctx.Done():
	}
	wait.Stop()
	b.canceled = ctx.Err() != nil // read by each goroutine after the close: no race
	go until(&b.sending, quietMax, quietGC.hold())
	released := time.Now()
	close(release)
	go func() {
		wg.Wait()
		close(results)
	}()
	return results, released
}

// preconnectWait bounds how long a burst waits for its connections
// before it releases its requests. Connecting 10,000 to a local server
// takes about a second here.
const preconnectWait = 5 * time.Second

// burstState is what the requests of one burst share.
type burstState struct {
	client            *http.Client
	name, method, url string
	canceled          bool

	mu  sync.Mutex
	seq uint64

	sending sync.WaitGroup // the requests not yet answered (or failed)
}

// hit sends req, built beforehand (or not: buildErr), and returns its
// result, with the fields vegeta's Attacker.hit sets, and BytesIn the
// whole body's size: the body itself is read and thrown away.
func (b *burstState) hit(req *http.Request, buildErr error) *vegeta.Result {
	res := &vegeta.Result{Attack: b.name, Method: b.method, URL: b.url}
	// Sequence numbers follow the timestamps, as in vegeta: both are
	// taken under one lock, so a later seq never has an earlier time.
	b.mu.Lock()
	res.Timestamp = time.Now()
	res.Seq = b.seq
	b.seq++
	b.mu.Unlock()
	if buildErr != nil {
		res.Error = buildErr.Error()
		res.Latency = time.Since(res.Timestamp)
		return res
	}
	req.Header.Set("X-Vegeta-Seq", strconv.FormatUint(res.Seq, 10))
	resp, err := b.client.Do(req)
	if err != nil {
		res.Error = err.Error()
		res.Latency = time.Since(res.Timestamp)
		return res
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	res.Latency = time.Since(res.Timestamp) // after Close, as vegeta's deferred calls run
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.BytesIn = uint64(n)
	if req.ContentLength != -1 {
		res.BytesOut = uint64(req.ContentLength)
	}
	if res.Code = uint16(resp.StatusCode); res.Code < 200 || res.Code >= 400 {
		res.Error = resp.Status
	}
	res.Headers = resp.Header
	return res
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
