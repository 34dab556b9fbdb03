package verdict

import (
	"errors"
	"strings"
	"testing"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/results/resultstest"
)

func capacityRun(standard, cluster float64) *results.Run {
	return resultstest.CapacityRun([]int{2}, []float64{standard, cluster})
}

// TestCompareCapacity: a capacity 20% down fails the gate, one within
// the brackets does not, an improvement is called one, and two runs
// searched at other SLOs are refused.
func TestCompareCapacity(t *testing.T) {
	t.Parallel()
	base := capacityRun(10, 16)
	if got := base.Arm("cluster").Capacity; got == nil || got.Rate != 16 || got.Speedup != 1.6 {
		t.Fatalf("fabricated capacities: %+v", got)
	}
	c, err := CompareCapacity(base, capacityRun(10, 12.8), "base", "head", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Passed() || len(c.Failed) != 1 || !strings.HasPrefix(c.Failed[0], "cluster.capacity fell by 20.0%") {
		t.Errorf("a capacity 20%% down: failed %v, want cluster.capacity's regression alone", c.Failed)
	}
	if d := deltaOf(t, c, "capacity_speedup"); d.Gated || d.Verdict != VerdictRegression {
		t.Errorf("capacity speedup: gated %v, verdict %q; want an advisory regression", d.Gated, d.Verdict)
	}
	c, err = CompareCapacity(base, capacityRun(10, 15.5), "base", "head", Options{})
	if err != nil || !c.Passed() || deltaOf(t, c, "cluster.capacity").Verdict != VerdictNoChange {
		t.Errorf("a capacity within the search's resolution: %v, %+v", err, c)
	}
	c, err = CompareCapacity(base, capacityRun(10, 24), "base", "head", Options{})
	if err != nil || !c.Passed() || deltaOf(t, c, "cluster.capacity").Verdict != VerdictImprovement {
		t.Errorf("a capacity 50%% up: %v, %+v", err, c)
	}
	other := capacityRun(10, 16)
	other.Config.SLOs = []string{"p99<=2s", "errors<=1%"}
	other.Derive()
	if _, err := CompareCapacity(base, other, "base", "head", Options{}); !errors.Is(err, ErrDifferentSetups) {
		t.Errorf("other SLOs: %v, want ErrDifferentSetups", err)
	}
	if _, err := CompareCapacity(base, fabricateRun([]float64{1.5, 1.5, 1.5, 1.5, 1.5, 1.5}), "base", "head", Options{}); !errors.Is(err, ErrIncomparable) {
		t.Errorf("a capacity run with a bench of bursts: %v, want ErrIncomparable", err)
	}
}
