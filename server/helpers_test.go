package server

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/flipbench/flipbench/fixtures"
)

// mustFixture returns an embedded image's bytes.
func mustFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustWriteFixture copies an embedded image to a file in a temp dir.
func mustWriteFixture(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, mustFixture(t, name), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustDecode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img
}

// meanAbsDiff is the mean absolute difference per channel between two
// images of the same size, in 8-bit units, and the largest one.
func meanAbsDiff(t testing.TB, a, b image.Image) (mean float64, maxDiff int) {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v vs %v", a.Bounds().Size(), b.Bounds().Size())
	}
	var sum, n int
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			ca := color.NRGBAModel.Convert(a.At(ab.Min.X+x, ab.Min.Y+y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(b.At(bb.Min.X+x, bb.Min.Y+y)).(color.NRGBA)
			for _, d := range []int{int(ca.R) - int(cb.R), int(ca.G) - int(cb.G), int(ca.B) - int(cb.B)} {
				d = max(d, -d)
				sum += d
				maxDiff = max(maxDiff, d)
				n++
			}
		}
	}
	return float64(sum) / float64(n), maxDiff
}

// assertEmptyDir fails if dir holds any file: every job must clean up.
func assertEmptyDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}
