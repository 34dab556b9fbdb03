package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/verdict"
)

// TestWriteCompareGolden renders the comparisons that package verdict's
// golden test makes and keeps (one that fails, one that passes) in every
// format; JSON must come back byte for byte.
func TestWriteCompareGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"compare-fail", "compare-pass"} {
		src, err := os.ReadFile(filepath.Join("..", "verdict", "testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var c verdict.Comparison
		if err := json.Unmarshal(src, &c); err != nil {
			t.Fatal(err)
		}
		for _, format := range CompareFormats {
			var buf bytes.Buffer
			if err := WriteCompare(&buf, &c, format); err != nil {
				t.Fatal(err)
			}
			if format == FormatJSON {
				if !bytes.Equal(buf.Bytes(), src) {
					t.Errorf("%s: JSON not written back as read:\n%s", name, buf.Bytes())
				}
				continue
			}
			checkGolden(t, name+"."+format, buf.Bytes())
		}
	}
}

// TestUnconfirmedGateIsNotCalledWithinThreshold: a gate that regressed on
// its own test but not on the joint one is said once, as such.
func TestUnconfirmedGateIsNotCalledWithinThreshold(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "verdict", "testdata", "node-slow30.json"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := results.ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := verdict.ComparePaired(run, "node-slow30.json", verdict.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCompare(&buf, c, FormatTable); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !regexp.MustCompile(`\| standard\.last .*\| +not confirmed \(gate\) \|`).MatchString(out) ||
		strings.Contains(out, "standard.last changed") || !strings.Contains(out, "warning: standard.last: beyond the threshold on its own test") {
		t.Errorf("standard.last: want the verdict not confirmed and the joint test's warning, no within-threshold note:\n%s", out)
	}
}
