//go:build !linux && !darwin

package server

import (
	"context"
	"io"
	"time"
)

// Instance is a flipbench server started by [Launch].
type Instance struct {
	URL     string
	PID     int
	Workers int
}

// Launch returns [ErrUnsupported] on this system.
func Launch(ctx context.Context, cfg LaunchConfig) (*Instance, error) { return nil, ErrUnsupported }

// Stop does nothing on this system.
func (i *Instance) Stop(ctx context.Context) error { return nil }

// Done returns a closed channel on this system.
func (i *Instance) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// WatchParent returns a cancellable ctx: there is no Launch here.
func WatchParent(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}

// CommandConfig describes any HTTP server to benchmark.
type CommandConfig struct {
	Command string
	URL     string
	Stderr  io.Writer
	Timeout time.Duration
}

// LaunchCommand returns [ErrUnsupported] on this system.
func LaunchCommand(ctx context.Context, cfg CommandConfig) (*Instance, error) {
	return nil, ErrUnsupported
}
