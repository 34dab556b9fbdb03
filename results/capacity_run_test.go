package results_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/results/resultstest"
)

// TestCapacityRunRoundTrip: a capacity run's figures are derived from
// its steps' requests when it is read; a file whose stored capacity
// disagrees with them is refused; the capacity speedups of several
// sizes get the scalability law.
func TestCapacityRunRoundTrip(t *testing.T) {
	t.Parallel()
	r := resultstest.CapacityRun([]int{2, 3, 4}, []float64{10, 19, 27, 34})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := results.ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Arm("cluster/4w").Capacity
	if c == nil || c.Rate != 34 || c.Speedup != 3.4 || c.Efficiency != 0.85 || c.Unconfirmed {
		t.Errorf("cluster/4w read back: %+v, want 34/s, 3.4x, 0.85", c)
	}
	if len(got.CapacityScaling) != 1 || got.CapacityScaling[0].Fit == nil || len(got.Scaling) != 0 {
		t.Errorf("capacity scaling %+v, burst scaling %+v: want one fitted capacity curve and no burst one", got.CapacityScaling, got.Scaling)
	}
	if _, err := got.Metric("cluster/4w.capacity", ""); err != nil {
		t.Errorf("a capacity run's metric: %v", err)
	}
	if _, err := got.Metric("cluster/4w.p99", ""); !errors.Is(err, results.ErrUnknownMetric) {
		t.Errorf("a burst metric of a capacity run: %v, want results.ErrUnknownMetric", err)
	}
	edited := bytes.Replace(b, []byte(`"capacity":{"rate":34`), []byte(`"capacity":{"rate":40`), 1)
	if bytes.Equal(edited, b) {
		t.Fatal("the fabricated file has no stored capacity of 34")
	}
	if _, err := results.ParseRun(edited); !errors.Is(err, results.ErrInconsistentRun) {
		t.Errorf("a stored capacity its steps do not give: %v, want results.ErrInconsistentRun", err)
	}
}
