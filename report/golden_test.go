package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with testdata/name.golden, or rewrites it with
// -update. On a mismatch it writes testdata/name.got for diffing.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		os.WriteFile(filepath.Join("testdata", name+".got"), got, 0o644)
		t.Errorf("%s differs from %s (got written to testdata/%s.got):\ngot:\n%s\nwant:\n%s", name, path, name, got, want)
	}
}
