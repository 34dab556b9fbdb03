package report

import (
	"bytes"
	"testing"
)

var fixedSteps = []Step{
	{"copy", []float64{3.1, 2.9, 3.0, 3.3, 2.8}},
	{"decode", []float64{612.4, 598.0, 640.2, 601.7, 605.5}},
	{"flip", []float64{95.2, 93.1, 99.9, 94.0, 96.4}},
	{"encode+save", []float64{1012.0, 998.3, 1040.7, 1003.2, 1007.9}},
	{"total", []float64{1722.7, 1692.3, 1784.0, 1702.2, 1712.6}},
}

func TestSummarizeSteps(t *testing.T) {
	t.Parallel()
	got := SummarizeSteps(fixedSteps)
	want := StepSummary{Name: "decode", Runs: 5, MedianMs: 605.5, MinMs: 598.0, MaxMs: 640.2}
	if got[1] != want {
		t.Errorf("got %+v, want %+v", got[1], want)
	}
	if fixedSteps[1].Samples[0] != 612.4 {
		t.Error("SummarizeSteps reordered its input")
	}
}

func TestWriteStepsGolden(t *testing.T) {
	t.Parallel()
	sum := SummarizeSteps(fixedSteps)
	var table, js bytes.Buffer
	if err := WriteStepsTable(&table, sum); err != nil {
		t.Fatal(err)
	}
	if err := WriteStepsJSON(&js, sum); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "steps.table", table.Bytes())
	checkGolden(t, "steps.json", js.Bytes())
}
