package history_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/results"
)

// TestSeriesOfSplitsBySetupAndBranch: runs of another burst size, or of
// another branch, are series of their own; a name no run has is refused.
func TestSeriesOfSplitsBySetupAndBranch(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "results", "testdata", "run-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	read := func(n int) *results.Run {
		run, err := results.ParseRun(b)
		if err != nil {
			t.Fatal(err)
		}
		run.Config.N = n
		return run
	}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	entries := []history.Entry{
		{Commit: "a", Branch: "main", Time: day, Run: read(10)},
		{Commit: "b", Branch: "main", Time: day.Add(time.Hour), Run: read(20)},
		{Commit: "c", Branch: "main", Time: day.Add(2 * time.Hour), Run: read(10)},
		{Commit: "d", Branch: "pr", Time: day.Add(3 * time.Hour), Run: read(10)},
	}
	series, err := history.SeriesOf(entries, "cluster.last")
	if err != nil {
		t.Fatal(err)
	}
	var shape []int
	for _, s := range series {
		shape = append(shape, len(s.Points))
	}
	if len(series) != 3 || shape[0] != 2 || series[0].Points[1].Commit != "c" || series[0].Unit != "ms" || series[0].HigherIsBetter {
		t.Errorf("series %+v (points %v); want main n=10 (a, c), main n=20 (b), pr (d), in ms, lower better", series, shape)
	}
	if _, err := history.SeriesOf(entries, "cluster.nope"); !errors.Is(err, results.ErrUnknownMetric) {
		t.Errorf("unknown metric: %v", err)
	}
	if _, err := history.SeriesOf(entries, "queue.last"); !errors.Is(err, results.ErrUnknownMetric) {
		t.Errorf("a metric none of the runs has: %v", err)
	}
}
