package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/queue"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
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
		// cobra has no error type for this one. Its suggestions ("Did
		// you mean this? load") are kept, on one line.
		msg, rest, _ := strings.Cut(err.Error(), "\n")
		if _, names, ok := strings.Cut(rest, "Did you mean this?"); ok {
			msg += "; did you mean " + strings.Join(strings.Fields(names), " or ") + "?"
		}
		fmt.Fprintf(stderr, "flipbench: %s\n", msg)
		return exitUsage
	case errors.Is(err, errInterrupted), errors.Is(err, queue.ErrNotReached):
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

Every flag of a command can also be set in the environment as
FLIPBENCH_<COMMAND>_<FLAG>, for example FLIPBENCH_LOAD_URL or
FLIPBENCH_CLUSTER_LOG_FORMAT=json (each command's help lists its own); a flag
given on the command line wins.`,
		Version:       v.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return bindEnv(cmd, getenv, cmd.ErrOrStderr())
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	// --version only: cobra would make it -v too, which is verbose on
	// load, so that "flipbench -v load" printed the version.
	root.Flags().Bool("version", false, "print the version")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err}
	})
	root.AddCommand(
		newServeCmd(results.Standard, nil),
		newServeCmd(results.Cluster, nil),
		newQueueCmd(nil),
		newQueueWorkerCmd(nil),
		newServeWorkerCmd(),
		newSuperviseCmd(),
		newSuperviseQueueCmd(),
		newServeQueueWorkerCmd(),
		newFlipCmd(nil),
		newLoadCmd(nil),
		newAgentCmd(nil),
		newBenchCmd(nil),
		newCompareCmd(nil),
		newReportCmd(nil),
		newHistoryCmd(),
		newCapacityCmd(),
		newVersionCmd(),
	)
	root.SetHelpCommand(newHelpCmd(root))
	root.InitDefaultCompletionCmd()
	strictCompletion(root)
	for _, cmd := range root.Commands() {
		if cmd.Hidden || cmd.Name() == "completion" {
			continue
		}
		documentEnv(cmd)
		for _, sub := range cmd.Commands() {
			documentEnv(sub) // history's
		}
	}
	registerCompletions(root)
	return root
}

// newHelpCmd is cobra's help command, except that an unknown topic is an
// error (exit 2), not the root's help and exit 0.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, cmd := range root.Commands() {
				if cmd.IsAvailableCommand() && strings.HasPrefix(cmd.Name(), toComplete) {
					names = append(names, cmd.Name()+"\t"+cmd.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return usageErrorf("no help for %q: not a command; flipbench help lists them", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// strictCompletion makes "flipbench completion nushell" an error: cobra's
// completion command has one subcommand a shell and otherwise prints its
// help and exits 0.
func strictCompletion(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		var shells []string
		for _, sub := range c.Commands() {
			shells = append(shells, sub.Name())
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageErrorf("completion: unknown shell %q: want %s", args[0], strings.Join(shells, ", "))
		}
	}
}

// bindEnv sets every flag of cmd not given on the command line from its
// variable, FLIPBENCH_<COMMAND>_<FLAG> (or the shorthand's,
// FLIPBENCH_LOAD_N), if that is set: flag > environment > default. The
// command in the name keeps one command's setting from reaching another
// (FLIPBENCH_URL once reached load and broke bench). An unscoped
// FLIPBENCH_<FLAG> of the old scheme gets a warning, not silence.
func bindEnv(cmd *cobra.Command, getenv func(string) string, stderr io.Writer) error {
	if cmd.Hidden || cmd.HasParent() && cmd.Parent().Name() == "completion" {
		return nil // internal commands take a spec; completion's shells none
	}
	flags := cmd.Flags()
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Name == "help" || f.Name == "version" {
			return
		}
		names := envNames(cmd, f)
		olds := []string{envName("", f.Name)}
		if f.Shorthand != "" {
			olds = append(olds, envName("", f.Shorthand)) // FLIPBENCH_N for -n
		}
		for i, old := range olds {
			if getenv(old) != "" && !slices.ContainsFunc(names, func(n string) bool { return getenv(n) != "" }) {
				fmt.Fprintf(stderr, "flipbench: warning: %s is not read; set %s (variables are per command)\n", old, names[min(i, len(names)-1)])
			}
		}
		if len(names) == 2 && getenv(names[0]) != "" && getenv(names[1]) != "" {
			err = usageErrorf("%s and %s both set --%s: set one", names[0], names[1], f.Name)
			return
		}
		if f.Changed {
			return
		}
		for _, name := range names {
			v := getenv(name)
			if v == "" {
				continue
			}
			if serr := flags.Set(f.Name, v); serr != nil {
				err = usageErrorf("%s=%q: %w", name, v, serr)
			}
			return
		}
	})
	if err != nil {
		return err
	}
	return checkUnknownEnv(cmd, getenv, os.Environ())
}

// checkUnknownEnv refuses a variable in cmd's scope, FLIPBENCH_LOAD_*,
// that is none of its flags' (a misspelt FLIPBENCH_LOAD_REQUSTS would
// otherwise be ignored in silence, as an unknown flag is not). The
// processes' own channels, the worker and launch specs, are not flags.
func checkUnknownEnv(cmd *cobra.Command, getenv func(string) string, environ []string) error {
	prefix := envName(envScope(cmd), "")
	known := map[string]bool{server.WorkerEnv: true, server.LaunchEnv: true}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		for _, n := range envNames(cmd, f) {
			known[n] = true
		}
	})
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, prefix) || known[name] || getenv(name) == "" {
			continue
		}
		return usageErrorf("%s is not a variable of %s, whose variables are %s<FLAG> for its flags", name, strings.TrimPrefix(cmd.CommandPath(), "flipbench "), prefix)
	}
	return nil
}

// envNames are the variables of cmd's flag f: FLIPBENCH_LOAD_REQUESTS,
// then the shorthand's, FLIPBENCH_LOAD_N.
func envNames(cmd *cobra.Command, f *pflag.Flag) []string {
	names := []string{envName(envScope(cmd), f.Name)}
	if f.Shorthand != "" && !strings.EqualFold(f.Shorthand, f.Name) {
		names = append(names, envName(envScope(cmd), f.Shorthand))
	}
	return names
}

// envScope is the command part of cmd's variables: "load", and for a
// subcommand its group's name too, "history_add" (FLIPBENCH_HISTORY_ADD_DB).
func envScope(cmd *cobra.Command) string {
	if p := cmd.Parent(); p != nil && p.HasParent() {
		return p.Name() + "_" + cmd.Name()
	}
	return cmd.Name()
}

// envName is the environment variable for a command's flag: load's
// --log-format is FLIPBENCH_LOAD_LOG_FORMAT; with no command,
// FLIPBENCH_LOG_FORMAT.
func envName(command, flag string) string {
	name := "FLIPBENCH_"
	if command != "" {
		name += strings.ToUpper(command) + "_"
	}
	return name + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// documentEnv lists cmd's variables at the end of its help.
func documentEnv(cmd *cobra.Command) {
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !f.Hidden {
			names = append(names, strings.Join(envNames(cmd, f), " or "))
		}
	})
	if len(names) == 0 {
		return
	}
	text := "\nEnvironment (a flag on the command line wins):"
	line := "\n "
	for i, n := range names {
		if i < len(names)-1 {
			n += ","
		}
		if len(line)+1+len(n) > 80 {
			text += line
			line = "\n "
		}
		line += " " + n
	}
	// After the flags, where cobra's usage ends.
	cmd.SetUsageTemplate(cmd.UsageTemplate() + text + line + "\n")
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

// fixtureNames are the embedded images as an image argument names them.
func fixtureNames() []string {
	var names []string
	for _, name := range fixtures.Names() {
		names = append(names, server.FixturePrefix+name)
	}
	return names
}

// listCompletions completes the last item of a comma-separated list:
// after "rr,", "rr,free" and the others not yet listed; "all" only alone.
func listCompletions(choices []string, typed string) []string {
	head := ""
	if i := strings.LastIndexByte(typed, ','); i >= 0 {
		head = typed[:i+1]
	}
	listed := strings.Split(strings.TrimSuffix(head, ","), ",")
	var out []string
	for _, c := range choices {
		if !slices.Contains(listed, c) {
			out = append(out, head+c)
		}
	}
	if head == "" {
		out = append(out, "all")
	}
	return out
}

// registerCompletions completes flag values, not only flag names: every
// choice flag's choices (each item of a list), the metrics of --gate and
// --assert (from the one metric table), fixture names for --image and
// --body, and for flip's input.
func registerCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			var values []string
			directive := cobra.ShellCompDirectiveNoFileComp
			switch v := f.Value.(type) {
			case *enumValue:
				values = v.choices
			case *enumList:
				// "rr," completes its second item: the choices not yet
				// listed, after what is typed so far.
				choices := v.choices
				cmd.RegisterFlagCompletionFunc(f.Name, func(_ *cobra.Command, _ []string, typed string) ([]string, cobra.ShellCompDirective) {
					return listCompletions(choices, typed), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
				})
				return
			default:
				switch f.Name {
				case "gate":
					values = results.MetricNames()
				case "assert":
					for _, m := range results.MetricNames() {
						values = append(values, m+">=", m+"<=")
					}
					directive |= cobra.ShellCompDirectiveNoSpace
				case "image", "body":
					values, directive = fixtureNames(), cobra.ShellCompDirectiveDefault // files too
				}
			}
			if values != nil {
				cmd.RegisterFlagCompletionFunc(f.Name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
					return values, directive
				})
			}
		})
		if cmd.Name() == "flip" {
			cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				if len(args) == 0 { // the input: a fixture or a file
					return fixtureNames(), cobra.ShellCompDirectiveDefault
				}
				return nil, cobra.ShellCompDirectiveDefault
			}
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}
