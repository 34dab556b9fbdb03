//go:build !linux && !darwin

package server

import (
	"context"
	"net"
	"os"
)

// Forks reports whether a [Cluster] runs its workers as processes of
// their own. Where it does not, a cluster of one serves in the calling
// process, whose GOMAXPROCS the entry point must then set.
const Forks = false

// Run returns [ErrUnsupported]: sharing one listening socket between
// worker processes is implemented for Linux and macOS only.
func (c *Cluster) Run(ctx context.Context, ln net.Listener) error {
	return ErrUnsupported
}

func (c *Cluster) runReusePort(ctx context.Context, reserved *os.File, addr string) error {
	return ErrUnsupported
}

// RunDetached returns [ErrUnsupported]: worker processes are supervised
// on Linux and macOS only.
func (c *Cluster) RunDetached(ctx context.Context) error {
	return ErrUnsupported
}
