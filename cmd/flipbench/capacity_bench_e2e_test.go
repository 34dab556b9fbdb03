//go:build linux

package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBenchCapacity: bench --capacity searches a real standard and a
// real cluster of two in turns (ABBA), within its budget, and writes a
// run file whose capacities report, compare and the plot read; the
// flags of the two kinds of bench are refused together.
func TestBenchCapacity(t *testing.T) {
	dir := t.TempDir()
	out, plot := filepath.Join(dir, "cap.json"), filepath.Join(dir, "cap.html")
	stdout, stderr, code := runCLI(t, nil, "bench", "--quick", "--workers", "2", "--capacity", "--slo", "p99<=250ms",
		"--start", "40", "--hold", "1s", "--min-requests", "10", "--budget", "30s", "--out", out, "--plot", plot)
	if code != 0 {
		t.Fatalf("bench --capacity: exit %d\n%s%s", code, stdout, stderr)
	}
	run := readRun(t, out)
	for _, a := range run.Arms {
		s := run.SearchOf(a.Name)
		// Any rate (a busy machine may fail even the first step, 40/s),
		// within the budget.
		if a.Capacity == nil || a.Capacity.Rate <= 0 || s == nil || s.TookMs > 30e3 {
			t.Errorf("%s: capacity %+v, search %v: want a rate, within the 30 s budget", a.Name, a.Capacity, s != nil)
		}
	}
	if len(run.Order) < 4 || !slices.Equal(run.Order[:4], []string{"standard", "cluster", "cluster", "standard"}) {
		t.Errorf("steps ran in the order %v, want the arms in turn, ABBA", run.Order)
	}
	// "40/s ok" or, on a busy machine, "40/s disturbed, held again": the
	// race pass runs every package's tests at once.
	for _, want := range []string{"capacity at p99<=250ms and errors<=1%", "standard steps: 40/s ", "server CPU"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}
	if html, err := os.ReadFile(plot); err != nil || !strings.Contains(string(html), "latency against offered rate") {
		t.Errorf("plot: %v, no latency-throughput curve", err)
	}
	if stdout, _, code := runCLI(t, nil, "report", out); code != 0 || !strings.Contains(stdout, "capacity") {
		t.Errorf("report of a capacity run: exit %d\n%s", code, stdout)
	}
	if stdout, stderr, code := runCLI(t, nil, "compare", out, out); code != 0 || !strings.Contains(stdout, "cluster.capacity") {
		t.Errorf("compare of a capacity run with itself: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--capacity"}, "at least one --slo"},
		{[]string{"--slo", "p99<=1s"}, "add --capacity"},
		{[]string{"--capacity", "--slo", "p99<=1s", "--rounds", "3"}, "--rounds set the bursts"},
		{[]string{"--capacity", "--slo", "p99<=1s", "--assert", "speedup>=1"}, "holds no bursts"},
	} {
		if _, stderr, code := runCLI(t, nil, append([]string{"bench", "--quick"}, tt.args...)...); code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("bench %v: exit %d, %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}
