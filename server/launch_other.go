//go:build !linux && !darwin

package server

import (
	"context"
	"io"
)

// Instance is a flipbench server started by [Launch].
type Instance struct {
	URL        string
	PID        int
	WorkerPIDs []int
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

// RunLaunched returns [ErrUnsupported] on this system.
func RunLaunched(ctx context.Context, stderr io.Writer) error { return ErrUnsupported }
