package loadgen

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// stalledAddr is a loopback address whose listener never accepts and
// whose backlog is full after a connection or two: Linux drops the SYNs
// of the rest, whose connects hang.
func stalledAddr(t *testing.T) string {
	t.Helper()
	fd, addr := boundLoopback(t)
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestStartDoesNotWaitForEveryConnection: a burst released at an
// instant shared with other machines goes at it, whether or not each
// connection is ready: one that cannot connect holds back only its own
// request (a burst without an instant waits up to preconnectWait, 5 s),
// and a connect still pending gives up with the request's timeout.
func TestStartDoesNotWaitForEveryConnection(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(300 * time.Millisecond)
	var released time.Time
	sum, err := Run(context.Background(), Config{URL: "http://" + stalledAddr(t) + "/", Method: "GET",
		Requests: 6, Timeout: time.Second, Start: start,
		OnStart: func(_ int, at time.Time) { released = at }})
	if err != nil {
		t.Fatal(err)
	}
	if late := released.Sub(start); late < 0 || late >= preconnectWait/2 {
		t.Errorf("released %s after its instant, want at it: it waited for connections that could not come", late)
	}
	if took := time.Since(start); took >= 10*time.Second {
		t.Errorf("the burst ended %s after its instant: its pending connects waited for the dialer's 10 s, not the request timeout", took)
	}
	if sum.OK != 0 || sum.Requests != 6 {
		t.Errorf("%d requests, %d ok (%v); want 6 timed out against a server that never answers", sum.Requests, sum.OK, sum.ErrorsByKind)
	}
}
