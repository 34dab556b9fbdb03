//go:build linux || darwin

package server

import (
	"fmt"
	"net"
	"os"
)

// inheritedListener is the worker's listener under its dispatch policy,
// from the file the supervisor passed as fd 3.
func inheritedListener(spec workerSpec) (net.Listener, error) {
	f := os.NewFile(fdListener, "listener")
	defer f.Close() // FileListener and FileConn dup it
	switch spec.Sched {
	case SchedRR, SchedFree:
		c, err := net.FileConn(f)
		if err != nil {
			return nil, fmt.Errorf("inherited handoff socket: %w", err)
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			return nil, fmt.Errorf("inherited handoff socket is a %T", c)
		}
		return newHandoffListener(uc), nil
	case SchedReusePort:
		return listenReusePort(spec.Addr)
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited listener: %w", err)
	}
	return ln, nil
}
