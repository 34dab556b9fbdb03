//go:build !linux && !darwin

package server

import (
	"context"
	"io"
	"time"
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

// Launched is what [Launch] gives a server process; on this system there
// is none.
type Launched struct {
	Name    string
	Addr    string
	Workers int
	Sched   string
	Queue   int
	Grace   time.Duration
	Config  Config
}

// InheritedLaunch returns [ErrUnsupported] on this system.
func InheritedLaunch(ctx context.Context) (*Launched, context.Context, func(), error) {
	return nil, nil, nil, ErrUnsupported
}

// Extra reports that there is nothing to decode on this system.
func (l *Launched) Extra(v any) (bool, error) { return false, nil }

// Listening does nothing on this system.
func (l *Launched) Listening(url string) {}

// WorkerReady does nothing on this system.
func (l *Launched) WorkerReady(worker, pid int) {}
