package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// reusePortControl sets SO_REUSEPORT (and SO_REUSEADDR) on a socket
// before it binds.
func reusePortControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); serr != nil {
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// listenReusePort listens on addr with a socket of this process's own
// that shares the port with its siblings: the kernel hashes connections
// between them.
func listenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: reusePortControl}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s with SO_REUSEPORT: %w", addr, err)
	}
	return ownListener{ln.(*net.TCPListener)}, nil
}

// ownListener is a worker's own SO_REUSEPORT socket. The kernel hashes
// new connections to it until it is closed, and closing it resets the
// ones it has queued: so a stopping worker first serves its queue
// ([Server.Serve] calls drain before it stops accepting).
type ownListener struct{ *net.TCPListener }

// drain returns once no connection has waited on the socket for
// drainQuiet, or after max. The worker keeps accepting meanwhile.
func (l ownListener) drain(max time.Duration) {
	drainUntilQuiet(max, func() bool { return readable(l.SyscallConn()) })
}

// reservePort binds a SO_REUSEPORT socket to addr without listening on
// it: the port stays the cluster's while its workers come and go, and
// the kernel hands this socket no connection.
func reservePort(addr string) (*os.File, net.Addr, error) {
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	family, sa := syscall.AF_INET, syscall.Sockaddr(nil)
	if ip4 := tcp.IP.To4(); ip4 != nil || tcp.IP == nil {
		a := &syscall.SockaddrInet4{Port: tcp.Port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		family = syscall.AF_INET6
		a := &syscall.SockaddrInet6{Port: tcp.Port}
		copy(a.Addr[:], tcp.IP.To16())
		sa = a
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), "reserved-port")
	for _, opt := range []int{syscall.SO_REUSEADDR, 0xf /* SO_REUSEPORT */} {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, opt, 1); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	bound, err := syscall.Getsockname(fd)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	switch b := bound.(type) {
	case *syscall.SockaddrInet4:
		return f, &net.TCPAddr{IP: net.IP(b.Addr[:]), Port: b.Port}, nil
	case *syscall.SockaddrInet6:
		return f, &net.TCPAddr{IP: net.IP(b.Addr[:]), Port: b.Port}, nil
	}
	f.Close()
	return nil, nil, fmt.Errorf("bound to %v", bound)
}
