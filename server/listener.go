package server

import (
	"net"
	"sync"
)

// gatedListener takes a job slot before it accepts a connection and gives
// it back when the connection is closed. A worker with no free slot does
// not call accept on the shared socket at all, so the kernel hands the next
// connection to a worker that is waiting in accept: the first free worker
// takes the next request.
type gatedListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newGatedListener(ln net.Listener, slots int) *gatedListener {
	return &gatedListener{Listener: ln, slots: make(chan struct{}, slots), done: make(chan struct{})}
}

func (l *gatedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &slotConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

func (l *gatedListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// slotConn gives its slot back on the first Close.
type slotConn struct {
	net.Conn
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
