package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
