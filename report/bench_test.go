package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flipbench/flipbench/results"
)

func TestWriteBenchInterruptedBeforeARound(t *testing.T) {
	t.Parallel()
	run := &results.Run{
		Config:      results.RunConfig{N: 10, Rounds: 5, Threads: 1},
		Interrupted: true,
		CutShort:    []string{"round 1: standard"},
		Arms: []results.Arm{
			{ArmSpec: results.ArmSpec{Name: results.Standard, Mode: results.Standard, Workers: 1}},
			{ArmSpec: results.ArmSpec{Name: results.Cluster, Mode: results.Cluster, Workers: 2, Baseline: results.Standard}},
		},
	}
	run.Derive()
	var buf bytes.Buffer
	if err := WriteBench(&buf, run, FormatTable); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "INTERRUPTED") || strings.Contains(out, "0.0 ms") || strings.Contains(out, "0.00x") {
		t.Errorf("an interrupted run without rounds must show no times and no speedup:\n%s", out)
	}
	// Nor a table of dashes with a legend about "0 rounds".
	if !strings.Contains(out, "no round finished, so nothing was measured (arms: standard, cluster)") ||
		strings.Contains(out, "over 0 rounds") || strings.Contains(out, "| -") {
		t.Errorf("an interrupted run without rounds must say so in a line:\n%s", out)
	}
	if !strings.Contains(out, "left out, measured in a round the interruption cut short (a round counts only when every arm measured it): round 1: standard") {
		t.Errorf("the measured bursts of a round cut short must be named:\n%s", out)
	}
}
