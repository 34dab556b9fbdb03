package loadgen

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestPrewarmLeavesNothingBehind: the throwaway burst's server and
// connections are gone when prewarm returns (a goroutine or a socket a
// round would be one more in a long bench), and with no time left it
// does nothing.
func TestPrewarmLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	client := newClient(ctx, Config{URL: "http://127.0.0.1:1/", Method: "GET"}, 200)
	before := runtime.NumGoroutine()
	prewarm(ctx, client, 200, time.Now().Add(time.Minute))
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after prewarm, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	start := time.Now()
	prewarm(ctx, client, 200, start.Add(-time.Millisecond))
	if took := time.Since(start); took > time.Second {
		t.Errorf("prewarm with its time past took %s, want nothing done", took)
	}
}
