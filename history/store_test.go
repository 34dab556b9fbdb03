package history_test

import (
	"testing"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/history/historytest"
	"github.com/flipbench/flipbench/results"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	historytest.Conformance(t, &history.Memory{})
}

func TestDigestIsTheContent(t *testing.T) {
	t.Parallel()
	a, b := &results.Run{Started: "x"}, &results.Run{Started: "x"}
	da, _ := a.Digest()
	db, _ := b.Digest()
	b.Started = "y"
	dc, _ := b.Digest()
	if da != db || da == dc || len(da) != 64 {
		t.Errorf("digests %s %s %s: want the same run one digest, another run another", da, db, dc)
	}
}
