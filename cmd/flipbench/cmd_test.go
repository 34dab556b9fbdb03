package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/server"
)

// parse runs a command's flag parsing and validation with runF in place of
// the real work, and returns the error RunE returned.
func parse(t *testing.T, cmdArgs []string) error {
	t.Helper()
	root := newRootCmd(func(string) string { return "" })
	root.SetArgs(cmdArgs)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	return root.ExecuteContext(context.Background())
}

func TestNewLoadCmdParses(t *testing.T) {
	var got *loadOptions
	cmd := newLoadCmd(func(_ context.Context, o *loadOptions, _, _ io.Writer) error { got = o; return nil })
	cmd.SetArgs([]string{"--url", "http://127.0.0.1:8080/flip", "--rate", "20/s", "--duration", "3s", "--rounds", "2", "--format", "csv"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	c := got.cfg
	if c.Requests != 0 || c.URL != "http://127.0.0.1:8080/flip" || c.Rate != (loadgen.Rate{Freq: 20, Per: time.Second}) ||
		c.Duration != 3*time.Second || c.Rounds != 2 || got.format != "csv" {
		t.Errorf("parsed %+v, format %q", c, got.format)
	}
}

func TestNewBenchCmdParses(t *testing.T) {
	var got *benchOptions
	cmd := newBenchCmd(func(_ context.Context, o *benchOptions, _, _ io.Writer) error { got = o; return nil })
	cmd.SetArgs([]string{"--quick", "--rounds", "9", "--workers", "4", "--assert", "speedup>=1.5", "--plot", "b.svg"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.cfg.Rounds != 9 || !slices.Equal(got.own.Workers, []int{4}) || got.own.Config.Image != "fixture:small.jpg" || len(got.checks) != 1 || got.plot != "b.svg" {
		t.Errorf("parsed %+v", got)
	}
}

func TestNewCompareCmdParses(t *testing.T) {
	var got *compareOptions
	cmd := newCompareCmd(func(_ context.Context, o *compareOptions, _, _ io.Writer) error { got = o; return nil })
	cmd.SetArgs([]string{"a.json", "b.json", "--max-regression", "5%", "--gate", "speedup,cluster.p99", "--format", "junit"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.base != "a.json" || got.head != "b.json" || got.opt.MaxRegression != 0.05 || len(got.opt.Gates) != 2 || got.format != "junit" {
		t.Errorf("parsed %+v", got)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"load", "-n", "0"},
		{"load", "--rate", "20/"},
		{"load", "--duration", "1s"},
		{"load", "--plot", "x.pdf"},
		{"bench", "--quick", "--image", "x.jpg"},
		{"bench", "--standard-cmd", "true"},
		{"bench", "--url", "http://127.0.0.1:1/flip"},
		{"bench", "--assert", "speedup"},
		{"compare", "a.json"},
		{"compare", "a.json", "b.json", "--alpha", "2"},
		{"report"},
		{"flip", "/no/such/file.jpg"},
	} {
		var ue *usageError
		if err := parse(t, args); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error (exit 2)", args, err)
		}
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	var got *loadOptions
	root := newRootCmd(func(k string) string {
		return map[string]string{"FLIPBENCH_LOAD_N": "7", "FLIPBENCH_LOAD_URL": "http://127.0.0.1:9/flip"}[k]
	})
	for _, c := range root.Commands() {
		if c.Name() == "load" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newLoadCmd(func(_ context.Context, o *loadOptions, _, _ io.Writer) error { got = o; return nil }))
	root.SetArgs([]string{"load", "--url", "http://127.0.0.1:8/flip"})
	root.SetOut(&bytes.Buffer{})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	// The environment fills what the command line leaves; the flag wins.
	if got.cfg.Requests != 7 || got.cfg.URL != "http://127.0.0.1:8/flip" {
		t.Errorf("requests %d url %q; want 7 from FLIPBENCH_LOAD_N and the --url flag", got.cfg.Requests, got.cfg.URL)
	}
}

// TestExitCodes runs the real root command with load's work replaced by
// runF returning each kind of error, and checks the exit code and the
// one line on stderr that each gets.
func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"ok", nil, exitOK, ""},
		{"failure", errors.New("3 of 10 requests failed"), exitFailure, "flipbench: 3 of 10 requests failed\n"},
		{"usage", usageErrorf("--body: no such file"), exitUsage, "flipbench: --body: no such file (see 'flipbench load --help')\n"},
		{"usage with a hint", usageErrorf("no URL\nTry: flipbench load --url URL"), exitUsage, "flipbench: no URL (see 'flipbench load --help')\nTry: flipbench load --url URL\n"},
		{"interrupted", errInterrupted, exitInterrupted, "flipbench: interrupted\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCmd(func(string) string { return "" })
			for _, c := range root.Commands() {
				if c.Name() == "load" {
					root.RemoveCommand(c)
				}
			}
			root.AddCommand(newLoadCmd(func(context.Context, *loadOptions, io.Writer, io.Writer) error { return tt.err }))
			var stderr bytes.Buffer
			code := execute(context.Background(), root, []string{"load", "-n", "3"}, io.Discard, &stderr)
			if code != tt.code || stderr.String() != tt.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr.String(), tt.code, tt.stderr)
			}
		})
	}
}

// TestBenchListFlags: --workers and --sched take lists, and a bad or
// repeated element is a usage error (exit 2) before anything starts.
func TestBenchListFlags(t *testing.T) {
	var got *benchOptions
	parse := func(args ...string) (int, string) {
		got = nil
		root := newRootCmd(func(string) string { return "" })
		for _, c := range root.Commands() {
			if c.Name() == "bench" {
				root.RemoveCommand(c)
			}
		}
		root.AddCommand(newBenchCmd(func(_ context.Context, o *benchOptions, _, _ io.Writer) error { got = o; return nil }))
		var stderr bytes.Buffer
		return execute(context.Background(), root, append([]string{"bench"}, args...), io.Discard, &stderr), stderr.String()
	}
	if code, stderr := parse("--quick", "--workers", "1,2", "--workers", "4", "--sched", "all"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !slices.Equal(got.own.Workers, []int{1, 2, 4}) || !slices.Equal(got.own.Scheds, server.Scheds) {
		t.Errorf("workers %v, scheds %v; want [1 2 4] and every policy", got.own.Workers, got.own.Scheds)
	}
	if arms := got.own.Arms(); len(arms) != 1+3*len(server.Scheds) {
		t.Errorf("%d arms, want standard and a cluster per size and policy", len(arms))
	}
	for _, args := range [][]string{
		{"--workers", "0"}, {"--workers", "2,2"}, {"--workers", "2,x"},
		{"--sched", "lifo"}, {"--sched", "rr,rr"}, {"--sched", "all,rr"},
		{"--standard-cmd", "a", "--cluster-cmd", "b", "--workers", "1,2"}, // no {workers} to put the sizes in
	} {
		if code, stderr := parse(args...); code != exitUsage || got != nil || strings.Count(stderr, "\n") > 2 {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a short message", args, code, stderr)
		}
	}
}

// TestEntriesAreHiddenCommands: every entry point that flipbench's
// processes start one another with (server.Entries, the one place that
// names them) is a hidden command, and takes its settings from its spec,
// not from flags (but for the flag of older launchers).
func TestEntriesAreHiddenCommands(t *testing.T) {
	root := newRootCmd(func(string) string { return "" })
	legacy := map[string][]string{server.EntrySuperviseQueue: {"reply"}}
	for _, entry := range server.Entries {
		cmd, rest, err := root.Find([]string{entry})
		if err != nil || cmd == root || len(rest) > 0 {
			t.Errorf("entry %s: no command (%v)", entry, err)
			continue
		}
		if !cmd.Hidden {
			t.Errorf("entry %s: command not hidden", entry)
		}
		var flags []string
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
		if !slices.Equal(flags, legacy[entry]) {
			t.Errorf("entry %s: flags %v, want %v", entry, flags, legacy[entry])
		}
	}
}
