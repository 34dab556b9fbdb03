package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/results"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 3
)

// errInterrupted is returned by commands that were stopped by a signal
// after writing what they had.
var errInterrupted = errors.New("interrupted")

// usageError marks bad usage or unusable input: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// run executes the command line and returns the exit code. stop releases
// the signal handler once the first signal has arrived, so that a second
// Ctrl-C kills the process outright.
func run(ctx context.Context, stop func(), args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	go func() {
		<-ctx.Done()
		stop()
	}()
	return execute(ctx, newRootCmd(getenv), args, stdout, stderr)
}

// execute runs root with args, prints an error as one line (and a hint
// on a second), and returns the exit code its type calls for.
func execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		// A hint on a second line ("Try: ...") stays on its own line.
		msg, hint, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(stderr, "flipbench: %s (see '%s --help')\n", msg, cmd.CommandPath())
		if hint != "" {
			fmt.Fprintln(stderr, hint)
		}
		return exitUsage
	case strings.HasPrefix(err.Error(), "unknown command"):
		// cobra has no error type for this one.
		fmt.Fprintf(stderr, "flipbench: %s\n", firstLine(err.Error()))
		return exitUsage
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(stderr, "flipbench: %v\n", err)
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "flipbench: %v\n", err)
	return exitFailure
}

func newRootCmd(getenv func(string) string) *cobra.Command {
	v := currentVersion()
	root := &cobra.Command{
		Use:   "flipbench",
		Short: "Measure what a cluster of worker processes buys a CPU-heavy HTTP server",
		Long: `flipbench runs the flip server of a well-known Node.js experiment (POST /flip
copies a ~6.7 MB photo, flips it vertically, saves it, deletes it, answers)
as one worker or as a cluster of worker processes, and times it.

Every flag can also be set as FLIPBENCH_<FLAG>, for example FLIPBENCH_THREADS=2
or FLIPBENCH_LOG_FORMAT=json; a flag given on the command line wins.`,
		Version:       v.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return bindEnv(cmd.Flags(), getenv)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err}
	})
	root.AddCommand(
		newServeCmd(results.Standard, nil),
		newServeCmd(results.Cluster, nil),
		newWorkerCmd(),
		newSuperviseCmd(),
		newFlipCmd(nil),
		newLoadCmd(nil),
		newBenchCmd(nil),
		newCompareCmd(nil),
		newReportCmd(nil),
		newVersionCmd(),
	)
	return root
}

// bindEnv sets every flag not given on the command line from
// FLIPBENCH_<FLAG>, if that is set: flag > environment > default.
func bindEnv(flags *pflag.FlagSet, getenv func(string) string) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if serr := flags.Set(f.Name, v); serr != nil {
			err = usageErrorf("%s=%q: %w", name, v, serr)
		}
	})
	return err
}

// envName is the environment variable for a flag: --log-format is
// FLIPBENCH_LOG_FORMAT.
func envName(flag string) string {
	return "FLIPBENCH_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// rangeArgs is cobra.RangeArgs with a usage error.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			if lo == hi {
				return usageErrorf("%s takes %d argument(s), got %d", cmd.Name(), lo, len(args))
			}
			return usageErrorf("%s takes %d to %d arguments, got %d", cmd.Name(), lo, hi, len(args))
		}
		return nil
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
