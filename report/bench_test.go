package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flipbench/flipbench/loadgen"
)

func TestWriteBenchInterruptedBeforeARound(t *testing.T) {
	t.Parallel()
	run := &loadgen.BenchRun{
		Config:      loadgen.RunSetup{N: 10, Rounds: 5, Workers: 2, Threads: 1},
		Interrupted: true,
		Modes:       []loadgen.ModeRun{{Mode: "standard", Workers: 1}, {Mode: "cluster", Workers: 2}},
	}
	var buf bytes.Buffer
	if err := WriteBench(&buf, run, FormatTable); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "INTERRUPTED") || strings.Contains(out, "0.0 ms") || strings.Contains(out, "0.00x") {
		t.Errorf("an interrupted run without rounds must show no times and no speedup:\n%s", out)
	}
}
