//go:build linux || darwin

package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The handoff: under the rr and free policies the supervisor accepts
// connections and hands each to a worker over a unix datagram socket
// pair, one datagram a connection: the connection's descriptor
// (SCM_RIGHTS), the time it was accepted, and the bytes the supervisor
// already read from it (the request head, under free). Datagrams keep one
// descriptor with its own bytes. When the worker closes a connection it
// sends a datagram back, so that the supervisor knows the slot is free,
// with the response's status and how long the worker held it.

// maxHandoff bounds one datagram: the head the supervisor reads is at
// most maxHeadBytes, and the header takes handoffHeader bytes.
const (
	handoffHeader = 8 // accepted, unix nanoseconds
	maxHandoff    = handoffHeader + maxHeadBytes + 4096
)

// handoffPair returns a connected pair of unix datagram sockets: the
// supervisor's end as a *net.UnixConn and the worker's as a file to
// inherit.
func handoffPair() (*net.UnixConn, *os.File, error) {
	// Under the fork lock, as os/exec's own pipes: a worker that another
	// slot starts at this moment must not inherit both ends.
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("handoff socket pair: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "handoff")
	defer ours.Close() // FileConn dups it
	c, err := net.FileConn(ours)
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("handoff socket: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "handoff-worker"), nil
}

// sendConn hands conn to the worker at the other end of uc, with the
// time it was accepted and the bytes already read from it. The caller
// keeps conn and closes its copy.
func sendConn(uc *net.UnixConn, conn *net.TCPConn, accepted time.Time, read []byte) error {
	f, err := conn.File() // a dup, blocking mode: fine for a receiver
	if err != nil {
		return err
	}
	defer f.Close()
	msg := make([]byte, handoffHeader, handoffHeader+len(read))
	binary.BigEndian.PutUint64(msg, uint64(accepted.UnixNano()))
	msg = append(msg, read...)
	_, _, err = uc.WriteMsgUnix(msg, syscall.UnixRights(int(f.Fd())), nil)
	return err
}

// jobDone is what a worker reports when it closes a handed connection.
type jobDone struct {
	// Status is the response's HTTP status, 0 if none was written.
	Status int
	// Held is how long the worker had the connection.
	Held time.Duration
}

const doneLen = 2 + 8

func (d jobDone) marshal() []byte {
	b := make([]byte, doneLen)
	binary.BigEndian.PutUint16(b, uint16(d.Status))
	binary.BigEndian.PutUint64(b[2:], uint64(d.Held))
	return b
}

func parseDone(b []byte) (jobDone, bool) {
	if len(b) != doneLen {
		return jobDone{}, false
	}
	return jobDone{Status: int(binary.BigEndian.Uint16(b)), Held: time.Duration(binary.BigEndian.Uint64(b[2:]))}, true
}

// handoffListener is a worker's listener under rr and free: it accepts
// the connections the supervisor hands over uc.
type handoffListener struct {
	uc     *net.UnixConn
	addr   net.Addr
	mu     sync.Mutex // serializes the done reports
	closed atomic.Bool
}

func newHandoffListener(uc *net.UnixConn) *handoffListener {
	return &handoffListener{uc: uc, addr: uc.LocalAddr()}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	buf := make([]byte, maxHandoff)
	oob := make([]byte, syscall.CmsgSpace(4))
	for {
		if l.closed.Load() {
			return nil, net.ErrClosed
		}
		n, oobn, _, _, err := l.uc.ReadMsgUnix(buf, oob)
		if l.closed.Load() {
			if err == nil { // handed over as Close drained: answer it too
				if hc, err := receivedConn(buf[:n], oob[:oobn]); err == nil {
					answerStopping(hc)
				}
			}
			return nil, net.ErrClosed
		}
		if err != nil {
			return nil, err
		}
		conn, err := receivedConn(buf[:n], oob[:oobn])
		if err != nil {
			// That connection is lost; its slot must not be.
			l.report(jobDone{})
			continue
		}
		conn.l = l
		return conn, nil
	}
}

func receivedConn(msg, oob []byte) (*handedConn, error) {
	cmsgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil || len(cmsgs) != 1 {
		return nil, errors.New("handoff without a descriptor")
	}
	fds, err := syscall.ParseUnixRights(&cmsgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil, errors.New("handoff without exactly one descriptor")
	}
	f := os.NewFile(uintptr(fds[0]), "handed")
	defer f.Close() // FileConn dups it
	if len(msg) < handoffHeader {
		return nil, errors.New("short handoff")
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	accepted := time.Unix(0, int64(binary.BigEndian.Uint64(msg)))
	return &handedConn{Conn: c, read: bytes.NewReader(bytes.Clone(msg[handoffHeader:])), accepted: accepted, taken: time.Now()}, nil
}

// drain returns once no handoff has waited on the socket for drainQuiet,
// or after max, the worker accepting meanwhile ([Server.Serve] calls it
// before it stops accepting). A worker is stopped once the supervisor
// hands it nothing more (a rolling restart has attached its successor),
// but what it was handed before is still on its way: served, not
// answered 503 by Close (1 of 120 requests of a roll under free, in CI).
func (l *handoffListener) drain(max time.Duration) {
	drainUntilQuiet(max, func() bool { return readable(l.uc.SyscallConn()) })
}

// Close stops accepting. Connections the supervisor handed over that no
// one took would be reset with the socket: each is answered 503 first, so
// that a graceful stop drops no request unanswered. The socket stays open
// for the reports of the jobs still running; the process's exit closes it.
func (l *handoffListener) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	// A deadline already past would fail the read before it looks: give
	// the queue a moment, which a read with data in the buffer never
	// waits.
	l.uc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, maxHandoff)
	oob := make([]byte, syscall.CmsgSpace(4))
	var answered sync.WaitGroup
	for {
		n, oobn, _, _, err := l.uc.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 && oobn == 0 {
			break
		}
		hc, err := receivedConn(buf[:n], oob[:oobn])
		if err != nil {
			continue
		}
		answered.Go(func() { answerStopping(hc) })
	}
	answered.Wait()
	l.uc.SetReadDeadline(time.Now()) // wakes an Accept still reading
	return nil
}
func (l *handoffListener) Addr() net.Addr { return l.addr }

// report tells the supervisor that a handed connection is closed.
func (l *handoffListener) report(d jobDone) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uc.Write(d.marshal()) // a supervisor that is gone takes the worker with it
}

// answerStopping answers 503 on a handed connection this worker will not
// serve.
func answerStopping(hc *handedConn) {
	if tc, ok := hc.Conn.(*net.TCPConn); ok {
		rawAnswer(tc, http.StatusServiceUnavailable, "stopping", "Retry-After: 1\r\n")
		return
	}
	hc.Conn.Close()
}

// handedConn is a connection received from the supervisor: the bytes it
// already read come first, then the socket's.
type handedConn struct {
	net.Conn
	read     *bytes.Reader
	accepted time.Time // when the supervisor accepted it
	taken    time.Time // when this worker took it
	l        *handoffListener
	status   atomic.Int32 // the response's status, set by the HTTP front
	once     sync.Once
}

// Accepted is when the supervisor accepted the connection.
func (c *handedConn) Accepted() time.Time { return c.accepted }

// SetStatus records the response's status for the report to the
// supervisor.
func (c *handedConn) SetStatus(code int) { c.status.Store(int32(code)) }

func (c *handedConn) Read(p []byte) (int, error) {
	if c.read.Len() > 0 {
		return c.read.Read(p)
	}
	return c.Conn.Read(p)
}

func (c *handedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.report(jobDone{Status: int(c.status.Load()), Held: time.Since(c.taken)}) })
	return err
}
