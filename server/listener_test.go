package server

import (
	"errors"
	"net"
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
