package server

import (
	"errors"
	"net"
	"slices"
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
