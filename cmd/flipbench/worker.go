package main

import (
	"context"
	"errors"
	"io"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/server"
)

// newServeWorkerCmd is the hidden command that `standard` and `cluster`
// start for each worker (server.EntryWorker; `worker` is the public
// queue worker).
func newServeWorkerCmd() *cobra.Command {
	return newWorkerEntryCmd(server.EntryWorker, "Serve as a worker of a flipbench supervisor (internal)",
		func() (workerProcess, error) { return asProcess(server.InheritedWorker()) })
}

// workerProcess is a supervised worker process: a cluster's
// (server.Worker) or a queue's local one (queue.LocalWorker).
type workerProcess interface {
	Threads() int
	Run(ctx context.Context, stderr io.Writer) error
}

// asProcess makes an inherited worker a workerProcess, and nil if there
// is none (not a nil pointer in a non-nil interface).
func asProcess[W workerProcess](w W, err error) (workerProcess, error) {
	if err != nil {
		return nil, err
	}
	return w, nil
}

// newWorkerEntryCmd is the hidden command of a supervised worker
// process: its supervisor passes everything through the environment and
// inherited files, so it has no flags. It is the process's entry point,
// so it sets what is process-wide (SIGPIPE ignored, GOMAXPROCS).
func newWorkerEntryCmd(use, short string, inherit func() (workerProcess, error)) *cobra.Command {
	return &cobra.Command{
		Use:    use,
		Short:  short,
		Hidden: true,
		Args:   rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := inherit()
			if errors.Is(err, server.ErrNotWorker) {
				return &usageError{err}
			} else if err != nil {
				return err
			}
			ignoreSIGPIPE()
			runtime.GOMAXPROCS(w.Threads())
			return w.Run(cmd.Context(), cmd.ErrOrStderr())
		},
	}
}

// newSuperviseCmd is the hidden command that bench starts for each
// cluster (server.Launch, server.EntrySupervise): its spec comes in the
// environment, and it reports its address and its workers' readiness on
// an inherited pipe.
func newSuperviseCmd() *cobra.Command {
	return &cobra.Command{
		Use:    server.EntrySupervise,
		Short:  "Serve as a server launched by flipbench bench (internal)",
		Hidden: true,
		Args:   rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ignoreSIGPIPE()
			err := server.RunLaunched(cmd.Context(), cmd.ErrOrStderr())
			if errors.Is(err, server.ErrNotLaunched) {
				return &usageError{err}
			}
			return err
		},
	}
}

// ignoreSIGPIPE keeps a server alive when its logs go to a pipe whose
// reader is gone (a killed bench): a log line must then fail quietly, not
// kill the process before it has stopped its workers or removed its job
// files.
func ignoreSIGPIPE() { signal.Ignore(syscall.SIGPIPE) }
