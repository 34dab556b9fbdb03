package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/server"
)

// newWorkerCmd is the hidden command that `standard` and `cluster` start
// for each worker; the supervisor passes everything through the
// environment and inherited files, so it has no flags.
func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "worker",
		Short:  "Serve as a worker of a flipbench supervisor (internal)",
		Hidden: true,
		Args:   rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := server.RunWorker(cmd.Context(), cmd.ErrOrStderr())
			if errors.Is(err, server.ErrNotWorker) {
				return &usageError{err}
			}
			return err
		},
	}
}
