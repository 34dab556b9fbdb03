//go:build !linux && !darwin

package server

import (
	"context"
	"net"
)

// Run returns [ErrUnsupported]: sharing one listening socket between
// worker processes is implemented for Linux and macOS only.
func (c *Cluster) Run(ctx context.Context, ln net.Listener) error {
	return ErrUnsupported
}
