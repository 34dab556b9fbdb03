package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/flipbench/flipbench/report"
)

// writeJSONFile writes v as JSON to path, atomically.
func writeJSONFile(path string, v any) error {
	return writeFileAtomic(path, func(w io.Writer) error { return report.WriteJSON(w, v) })
}

// writePlot draws to path in the format its extension names, atomically.
func writePlot(path string, draw func(io.Writer, string) error) error {
	format, err := report.PlotFormatOf(path)
	if err != nil {
		return usageErrorf("--plot: %w", err)
	}
	return writeFileAtomic(path, func(w io.Writer) error { return draw(w, format) })
}

// writeFileAtomic writes path through a temporary file in the same
// directory, renamed into place, so that a crash, a failed write or a
// full disk never leaves half a file where a previous result was.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp := fmt.Sprintf("%s.tmp-%d", path, time.Now().UnixNano())
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
