package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flipbench/flipbench/results"
)

// mustReadJSON decodes testdata/name into a new T.
func mustReadJSON[T any](t *testing.T, name string) *T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// mustReadRun reads testdata/name as compare and report read run files.
func mustReadRun(t *testing.T, name string) *results.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	run, err := results.ParseRun(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return run
}

func TestWriteLoadGolden(t *testing.T) {
	t.Parallel()
	for _, input := range []string{"load", "load-refused"} {
		sum := mustReadJSON[results.Summary](t, input+".json")
		for _, format := range LoadFormats {
			t.Run(input+"."+format, func(t *testing.T) {
				var buf bytes.Buffer
				if err := WriteLoad(&buf, sum, format); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, input+"."+format, buf.Bytes())
			})
		}
	}
}

func TestWriteLoadShowsNoTimesWithoutResponses(t *testing.T) {
	t.Parallel()
	sum := mustReadJSON[results.Summary](t, "load-refused.json")
	var buf bytes.Buffer
	if err := WriteLoad(&buf, sum, FormatTable); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"| last response  |", "-", "| refused |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0.0 ms |\n| last") {
		t.Errorf("a run without responses shows a first response time:\n%s", out)
	}
}

func TestWriteLoadUnknownFormat(t *testing.T) {
	t.Parallel()
	if err := WriteLoad(&bytes.Buffer{}, &results.Summary{}, "xml"); err == nil {
		t.Error("WriteLoad with format xml: nil error")
	}
}

func TestWriteBenchGolden(t *testing.T) {
	t.Parallel()
	run := mustReadRun(t, "run.json")
	for _, format := range BenchFormats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteBench(&buf, run, format); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "run."+format, buf.Bytes())
		})
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ms   float64
		want string
	}{{0.4, "0.4 ms"}, {999.94, "999.9 ms"}, {1000, "1.00 s"}, {9406.2, "9.41 s"}} {
		if got := Duration(tt.ms); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}
