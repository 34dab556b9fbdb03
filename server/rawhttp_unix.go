//go:build linux || darwin

package server

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// What the supervisor's front does with connections that no HTTP server
// owns: peek at them, read a request head, answer on them, close them
// softly, and pass them to an HTTP server of its own.

// requestLine returns the method and the path of a request head.
func requestLine(head []byte) (method, path string) {
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	parts := bytes.Fields(line)
	if len(parts) < 2 {
		return "", ""
	}
	target, _, _ := bytes.Cut(parts[1], []byte("?"))
	return string(parts[0]), string(target)
}

// alive reports whether p's client is still there: it peeks at the
// socket without blocking; an orderly EOF means the client left. (A read
// with a deadline already past would not even look.)
func alive(p *pending) bool {
	rc, err := p.conn.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && err == nil
		return true // never wait
	})
	if gone {
		p.conn.Close()
	}
	return !gone
}

// quietHeadWait is how long a connection answered without a worker (a
// 503, a stop's) may take to send its request head.
const quietHeadWait = time.Second

// readHeadQuietly reads what a client sends until the end of its request
// head, for quietHeadWait at most.
func readHeadQuietly(conn *net.TCPConn) {
	conn.SetReadDeadline(time.Now().Add(quietHeadWait))
	defer conn.SetReadDeadline(time.Time{})
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) && len(head) < maxHeadBytes {
		n, err := conn.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			return
		}
	}
}

// rawAnswer writes a plain-text response with code on a connection no
// HTTP server owns, then closes it softly.
func rawAnswer(conn *net.TCPConn, code int, why, headers string) {
	body := http.StatusText(code) + "\n"
	if why != "" {
		body = http.StatusText(code) + ": " + why + "\n"
	}
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(conn, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(body), headers, body)
	closeSoftly(conn)
}

// closeSoftly closes conn after the client has read what was written: a
// close with unread request bytes in the socket would send a reset that
// can destroy the response on its way.
func closeSoftly(conn *net.TCPConn) {
	conn.CloseWrite()
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var b [4096]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			break
		}
	}
	conn.Close()
}

// chanListener is a listener whose connections are pushed to it.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.UnixAddr{Name: "supervisor", Net: "unix"} }

// prefixConn reads the bytes already read from it first.
type prefixConn struct {
	net.Conn
	read *bytes.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.read.Len() > 0 {
		return c.read.Read(p)
	}
	return c.Conn.Read(p)
}
