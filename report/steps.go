package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/flipbench/flipbench/results"
)

// Step is one timed step of a job and its samples, in milliseconds.
type Step struct {
	// Name is the step's name ("decode").
	Name string
	// Samples are its durations, one per run.
	Samples []float64
}

// StepSummary is a Step's samples reduced to order statistics.
type StepSummary struct {
	// Name is the step's name and Runs the number of samples.
	Name string `json:"step"`
	Runs int    `json:"runs"`
	// MedianMs, MinMs and MaxMs are over the samples.
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// SummarizeSteps reduces each step's samples to median, min and max. A step
// without samples has zeros.
func SummarizeSteps(steps []Step) []StepSummary {
	out := make([]StepSummary, len(steps))
	for i, s := range steps {
		out[i] = StepSummary{Name: s.Name, Runs: len(s.Samples)}
		if len(s.Samples) == 0 {
			continue
		}
		sorted := slices.Sorted(slices.Values(s.Samples))
		out[i].MedianMs = results.Percentile(sorted, 50)
		out[i].MinMs, out[i].MaxMs = sorted[0], sorted[len(sorted)-1]
	}
	return out
}

// WriteStepsTable writes one row per step: median, min and max in ms.
func WriteStepsTable(w io.Writer, steps []StepSummary) error {
	t := newTable(w, 5)
	t.Header("step", "runs", "median ms", "min ms", "max ms")
	for _, s := range steps {
		if err := t.Append(s.Name, fmt.Sprint(s.Runs), fmtMs(s.MedianMs), fmtMs(s.MinMs), fmtMs(s.MaxMs)); err != nil {
			return err
		}
	}
	return t.Render()
}

// WriteStepsJSON writes the summaries as an indented JSON array.
func WriteStepsJSON(w io.Writer, steps []StepSummary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(steps)
}

func fmtMs(v float64) string { return fmt.Sprintf("%.1f", v) }
