//go:build linux || darwin

package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestClusterGivesUpOnWorkersThatNeverStart(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logs bytes.Buffer
	c := &Cluster{
		Workers:          2,
		Exe:              "/bin/false", // a real process that exits 1 before saying ready
		Args:             []string{},
		Backoff:          time.Millisecond,
		MaxStartFailures: 3,
		Logger:           slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = c.Run(ctx, ln)
	if !errors.Is(err, ErrGaveUp) {
		t.Fatalf("got %v, want ErrGaveUp", err)
	}
	if !strings.Contains(err.Error(), "3 times in a row") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("error %q does not say how often and how the worker failed", err)
	}
	if ctx.Err() != nil {
		t.Error("Run only returned at the test's deadline")
	}
	if n := strings.Count(logs.String(), "restarting worker"); n < 2 {
		t.Errorf("logged %d restarts, want at least 2:\n%s", n, logs.String())
	}
}

func TestClusterNeedsAShareableListener(t *testing.T) {
	t.Parallel()
	err := (&Cluster{Sched: SchedShared}).Run(context.Background(), fakeListener{})
	if err == nil || !strings.Contains(err.Error(), "cannot be shared") {
		t.Errorf("got %v, want a listener error", err)
	}
	err = (&Cluster{Sched: SchedFree}).Run(context.Background(), fakeListener{})
	if err == nil || !strings.Contains(err.Error(), "accepts TCP connections") {
		t.Errorf("free: got %v, want a listener error", err)
	}
	err = (&Cluster{Sched: "random"}).Run(context.Background(), fakeListener{})
	if err == nil || !strings.Contains(err.Error(), "dispatch policy must be one of") {
		t.Errorf("unknown policy: got %v, want a policy error", err)
	}
}

type fakeListener struct{ net.Listener }
