package main

import (
	"context"
	"log/slog"
	"net"
	"runtime"

	"github.com/flipbench/flipbench/server"
)

// serveInProcess is `standard` where workers cannot be forked: the server
// runs in this process with the same GOMAXPROCS a worker would have.
func serveInProcess(ctx context.Context, opts *serveOptions, ln net.Listener, log *slog.Logger) error {
	if opts.threads > 0 {
		runtime.GOMAXPROCS(opts.threads)
	}
	cfg := opts.config()
	cfg.Logger = log
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Serve(ctx, ln, opts.grace)
}
