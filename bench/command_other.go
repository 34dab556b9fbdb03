//go:build !linux && !darwin

package bench

import (
	"context"
	"io"

	"github.com/flipbench/flipbench/server"
)

type commandServer struct{}

func (*commandServer) URL() string                    { return "" }
func (*commandServer) PID() int                       { return 0 }
func (*commandServer) Stop(ctx context.Context) error { return nil }

// startCommand returns server.ErrUnsupported: process groups are a Unix
// idea.
func startCommand(ctx context.Context, command, dir, url string, logs io.Writer) (*commandServer, error) {
	return nil, server.ErrUnsupported
}
