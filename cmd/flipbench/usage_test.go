package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/fixtures"
)

// TestNumbersOutOfRangeAreRefused gives every numeric flag of every
// command -1: each must be a usage error, none may start work. The
// context is already cancelled, so a flag that slipped through returns
// promptly instead of serving or benching.
func TestNumbersOutOfRangeAreRefused(t *testing.T) {
	t.Parallel()
	root := newRootCmd(func(string) string { return "" })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checked := 0
	for _, cmd := range root.Commands() {
		if cmd.Hidden || cmd.Name() == "completion" || cmd.Name() == "help" {
			continue
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			value := map[string]string{"int": "-1", "ints": "-1", "duration": "-1s", "size": "-1", "percentiles": "-1", "float64": "-1"}[f.Value.Type()]
			if value == "" {
				return
			}
			checked++
			args := []string{cmd.Name(), "--" + f.Name + "=" + value}
			switch cmd.Name() {
			case "flip":
				args = append(args, "fixture:"+fixtures.SmallJPEG)
			case "compare", "report":
				args = append(args, filepath.Join("..", "..", "results", "testdata", "run-v1.json"))
			}
			fresh := newRootCmd(func(string) string { return "" })
			fresh.SetArgs(args)
			fresh.SetOut(&bytes.Buffer{})
			fresh.SetErr(&bytes.Buffer{})
			_, err := fresh.ExecuteContextC(ctx)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Errorf("%s: %v, want a usage error (exit 2)", strings.Join(args, " "), err)
			}
		})
	}
	if checked < 20 {
		t.Errorf("only %d numeric flags found: the test lost its reach", checked)
	}
}

// TestCompletionOfValues: flag values complete, not only flag names.
func TestCompletionOfValues(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"bench", "--format", ""}, []string{"table", "json", "markdown"}},
		{[]string{"load", "--format", ""}, []string{"table", "json", "markdown", "csv"}},
		{[]string{"cluster", "--log-format", ""}, []string{"text", "json"}},
		{[]string{"cluster", "--sched", ""}, []string{"shared", "rr", "free", "reuseport"}},
		{[]string{"bench", "--sched", ""}, []string{"shared", "all"}},
		{[]string{"compare", "--gate", ""}, []string{"speedup", "cluster.p99", "standard.error_rate"}},
		{[]string{"bench", "--assert", ""}, []string{"speedup>=", "cluster.p99<="}},
		{[]string{"bench", "--image", ""}, []string{"fixture:" + fixtures.SmallJPEG, "fixture:" + fixtures.SmallPNG}},
		{[]string{"help", ""}, []string{"bench", "load"}},
		// The second item of a list, fixtures for flip's input and
		// load's body (issue 20: neither completed).
		{[]string{"bench", "--sched", "rr,"}, []string{"rr,free", "rr,shared", "rr,reuseport"}},
		{[]string{"flip", ""}, []string{"fixture:" + fixtures.SmallJPEG}},
		{[]string{"load", "--body", ""}, []string{"fixture:" + fixtures.SmallPNG}},
	} {
		root := newRootCmd(func(string) string { return "" })
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, tt.args...))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		got := strings.Split(out.String(), "\n")
		for _, w := range tt.want {
			if !containsLine(got, w) {
				t.Errorf("completing %q: %q missing from %q", tt.args, w, out.String())
			}
		}
	}
}

func containsLine(lines []string, s string) bool {
	for _, l := range lines {
		if name, _, _ := strings.Cut(l, "\t"); name == s {
			return true
		}
	}
	return false
}
