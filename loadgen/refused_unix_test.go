//go:build unix

package loadgen

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// refusingAddr is a loopback address where nothing listens, held for
// the test: a socket bound there and never listening, so that no other
// test's server can take the port (one closed after binding was taken,
// and answered 503, in CI).
func refusingAddr(t *testing.T) string {
	t.Helper()
	_, addr := boundLoopback(t)
	return addr
}

// boundLoopback is a TCP socket bound to a free port of 127.0.0.1, closed
// when the test ends, and its address.
func boundLoopback(t *testing.T) (fd int, addr string) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
