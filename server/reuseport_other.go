//go:build !linux

package server

import (
	"errors"
	"net"
	"os"
)

// errNoReusePort is why reuseport fails here: other systems either lack
// SO_REUSEPORT or do not balance connections with it.
var errNoReusePort = errors.New("the reuseport policy needs Linux, whose kernel balances connections between SO_REUSEPORT sockets")

func listenReusePort(addr string) (net.Listener, error) { return nil, errNoReusePort }

func reservePort(addr string) (*os.File, net.Addr, error) { return nil, nil, errNoReusePort }
