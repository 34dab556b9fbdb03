//go:build unix

package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flipbench/flipbench/fixtures"
)

// TestStoppingWorkerServesWhatWasHandedToIt: under rr and free, a worker
// told to stop serves the connections the supervisor handed it before it
// turned to another worker, though they still wait on its socket (its
// one slot busy). Close used to answer them 503 (1 of 120 requests of a
// rolling restart under free, in CI).
func TestStoppingWorkerServesWhatWasHandedToIt(t *testing.T) {
	t.Parallel()
	sup, theirs, err := handoffPair()
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	wc, err := net.FileConn(theirs)
	theirs.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{TmpDir: t.TempDir(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, newHandoffListener(wc.(*net.UnixConn)), 10*time.Second) }()

	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	body, _ := fixtures.Bytes(fixtures.SmallJPEG)
	// The first holds the worker's slot: its body comes later.
	slow := handOver(t, sup, tl, fmt.Sprintf("POST /flip HTTP/1.1\r\nHost: flipbench\r\nContent-Length: %d\r\n\r\n", len(body)))
	queued := handOver(t, sup, tl, "GET / HTTP/1.1\r\nHost: flipbench\r\n\r\n")
	stop()
	if _, err := slow.Write(body); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"the slot's": slow, "the queued": queued} {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		status, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
			t.Errorf("%s request: status line %q, err %v; want 200 from the stopping worker", name, status, err)
		}
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// handOver connects a client to tl, sends req, and hands the server's
// end of the connection to the worker behind sup; it returns the client's.
func handOver(t *testing.T, sup *net.UnixConn, tl net.Listener, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := tl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	if err := sendConn(sup, sc.(*net.TCPConn), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	return c
}
