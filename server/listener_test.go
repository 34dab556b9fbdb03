package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGatedListenerTakesSlotBeforeAccept(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := newGatedListener(ln, 1)
	defer gl.Close()

	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, err := gl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan net.Conn, 1)
	go func() {
		c, _ := gl.Accept()
		second <- c
	}()
	// The one slot is taken: the second connection can only be accepted
	// once the first is closed, however long we wait. Closing twice must
	// give the slot back once.
	if len(gl.slots) != 1 {
		t.Fatalf("slots in use = %d, want 1", len(gl.slots))
	}
	first.Close()
	first.Close()
	select {
	case c := <-second:
		if c == nil {
			t.Fatal("second Accept failed")
		}
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("second Accept did not return after the first connection closed")
	}
}

func TestGatedListenerCloseUnblocksAccept(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := newGatedListener(ln, 1)
	gl.slots <- struct{}{} // all slots busy
	errc := make(chan error, 1)
	go func() {
		_, err := gl.Accept()
		errc <- err
	}()
	gl.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("got %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
}

// slotCheckingListener hands out in-memory connections at once and
// records, at each Accept, how many of gl's slots are taken beyond the
// connections it has handed out and not seen closed: 1 when the caller
// took its slot before accepting, as it must, 0 when it accepted first.
type slotCheckingListener struct {
	net.Listener // for Addr; never called
	gl           *gatedListener
	mu           sync.Mutex
	open         int
	held         []int
}

func (l *slotCheckingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = append(l.held, len(l.gl.slots)-l.open)
	l.open++
	c, other := net.Pipe()
	other.Close()
	return &closeHookConn{Conn: c, hook: func() {
		l.mu.Lock()
		l.open--
		l.mu.Unlock()
	}}, nil
}

func (l *slotCheckingListener) Close() error { return nil }

type closeHookConn struct {
	net.Conn
	hook func()
}

func (c *closeHookConn) Close() error {
	err := c.Conn.Close()
	c.hook()
	return err
}

// TestGatedListenerNeverAcceptsWithoutASlot fails for a listener that
// accepts and then waits for a slot: such a worker would take a
// connection off the shared socket that a free worker could serve.
func TestGatedListenerNeverAcceptsWithoutASlot(t *testing.T) {
	t.Parallel()
	inner := &slotCheckingListener{}
	gl := newGatedListener(inner, 2)
	inner.gl = gl
	var conns []net.Conn
	for range 2 {
		c, err := gl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	conns[0].Close()
	c, err := gl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	conns[1].Close()
	if want := []int{1, 1, 1}; !slices.Equal(inner.held, want) {
		t.Errorf("slots held beyond open connections at each Accept: %v, want %v (a slot taken before every accept)", inner.held, want)
	}
	if len(gl.slots) != 0 {
		t.Errorf("%d slots still taken after every connection closed", len(gl.slots))
	}
}

// lateListener is a socket whose Accept, having taken a connection off
// the queue, hands it over only once the listener is closed: the moment
// of a rolling restart when a stopping worker's Accept returns a
// connection just as the worker stops accepting.
type lateListener struct {
	net.Listener
	took   chan struct{}
	closed chan struct{}
	once   sync.Once
}

func (l *lateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	close(l.took)
	<-l.closed
	return c, nil
}

func (l *lateListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// TestStoppingServerAnswersWhatItsLastAcceptTook: a connection that an
// Accept in flight took off the socket while the server began to stop
// is answered, not dropped. (Serve used to begin Shutdown without
// waiting for that Accept to return, and net/http drops a request it
// reads once Shutdown has begun: the client saw EOF. CI hit it once in
// a rolling restart under shared dispatch.)
func TestStoppingServerAnswersWhatItsLastAcceptTook(t *testing.T) {
	t.Parallel()
	s, err := New(Config{TmpDir: t.TempDir(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &lateListener{Listener: inner, took: make(chan struct{}), closed: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 10*time.Second) }()

	conn, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: flipbench\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-ln.took
	stop()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Errorf("status line %q, err %v; want 200 from the stopping server", status, err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
