package loadgen

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// prewarm readies the process for a burst of n to be released at an
// instant ([Config.Start]), in the time it has before the burst's set-up
// ([SetupTime]) begins at until. Such a burst must be set up by its
// instant, and a process's first set-up is its slowest: three fresh
// agents on 2 CPUs took 50-110 ms to set up 100 connections each, where
// SetupTime gives them 35 (their goroutines' stacks, the transport's
// buffers and the heap touched for the first time), and released late.
// So it sends a throwaway burst of the same size (of gateMax at most)
// through client to a server of its own on loopback, which the target
// never sees, and then collects the garbage, so that the process's next
// collection does not fall in the set-up or the release. An agent is
// given its share half a second ahead: the time is otherwise idle. The
// throwaway burst is cut off at until, and the collection skipped when
// too little time is left.
func prewarm(ctx context.Context, client *http.Client, n int, until time.Time) {
	if time.Until(until) <= 0 {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return // no loopback to warm up on: the burst sets up cold
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	wctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	stop := context.AfterFunc(wctx, func() { srv.Close() })
	defer stop()
	// Its requests are tied to wctx too, not to the round's context: the
	// throwaway burst ends at until, answered or not.
	warm := *client
	if ct, ok := client.Transport.(ctxTransport); ok {
		ct.ctx = wctx
		warm.Transport = ct
	}
	results, _ := burst(wctx, &warm, vegeta.Target{Method: http.MethodGet, URL: "http://" + ln.Addr().String() + "/"}, min(n, gateMax), "prewarm", time.Time{})
	for range results {
	}
	srv.Close()
	if ctx.Err() == nil && time.Until(until) > 5*time.Millisecond {
		runtime.GC()
	}
}
