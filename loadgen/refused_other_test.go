//go:build !unix

package loadgen

import (
	"net"
	"testing"
)

// refusingAddr is a loopback address where nothing listens: bound, then
// closed.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
