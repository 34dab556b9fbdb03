package server

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
)

// TestFlipPlanesMatchesImaging flips JPEGs of every layout the fast path
// takes (4:2:0, 4:2:2, 4:4:4, 4:4:0, gray, progressive, restart
// intervals; odd and even sizes: testdata/jpeg/gen.sh) and checks that
// the output decodes to imaging.FlipV's pixels of the same input, within
// what re-encoding costs: on average, and row by row, where a chroma row
// out of place would show at the coloured edges.
func TestFlipPlanesMatchesImaging(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("testdata", "jpeg", "*.jpg"))
	if err != nil || len(paths) < 21 {
		t.Fatalf("%d test JPEGs (%v), want 21: run testdata/jpeg/gen.sh", len(paths), err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			in, err := jpeg.Decode(bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res, err := (&Flipper{Dir: t.TempDir(), Quality: 90}).Run(context.Background(), Job{Source: bytes.NewReader(src), Output: &out})
			if err != nil {
				t.Fatal(err)
			}
			got, err := jpeg.Decode(&out)
			if err != nil {
				t.Fatal(err)
			}
			b := in.Bounds()
			if got.Bounds().Size() != b.Size() || res.Width != b.Dx() || res.Height != b.Dy() {
				t.Fatalf("flipped %v (reported %dx%d), want %v", got.Bounds().Size(), res.Width, res.Height, b.Size())
			}
			want := imaging.FlipV(in)
			// What the imaging path itself loses: FlipV, then encoded.
			var ref bytes.Buffer
			if err := imaging.Encode(&ref, want, imaging.JPEG, imaging.JPEGQuality(90)); err != nil {
				t.Fatal(err)
			}
			refImg, err := jpeg.Decode(&ref)
			if err != nil {
				t.Fatal(err)
			}
			mean, _ := meanAbsDiff(t, got, want)
			refMean, _ := meanAbsDiff(t, refImg, want)
			row, refRow := worstRow(got, want), worstRow(refImg, want)
			if mean > refMean+1 || row > refRow+4 {
				t.Errorf("from imaging.FlipV: mean %.2f, worst row %.2f; the imaging path: %.2f, %.2f", mean, row, refMean, refRow)
			}
			// The check can fail: the unflipped picture is far off.
			if unflipped, _ := meanAbsDiff(t, got, in); unflipped < 3*mean+5 {
				t.Errorf("as close to the unflipped picture (%.2f) as to the flipped one (%.2f)", unflipped, mean)
			}
			if strings.HasPrefix(filepath.Base(path), "gray") {
				if _, ok := in.(*image.Gray); !ok {
					t.Errorf("decoded as %T, want *image.Gray", in)
				}
			}
		})
	}
}

// worstRow is the largest mean difference of one row of a and b, over
// the RGB channels.
func worstRow(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	worst := 0.0
	for y := 0; y < ab.Dy(); y++ {
		sum := 0
		for x := 0; x < ab.Dx(); x++ {
			ca := color.NRGBAModel.Convert(a.At(ab.Min.X+x, ab.Min.Y+y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(b.At(bb.Min.X+x, bb.Min.Y+y)).(color.NRGBA)
			for _, d := range []int{int(ca.R) - int(cb.R), int(ca.G) - int(cb.G), int(ca.B) - int(cb.B)} {
				sum += max(d, -d)
			}
		}
		worst = max(worst, float64(sum)/float64(3*ab.Dx()))
	}
	return worst
}

// TestFlipPlanesTakesJPEGLayouts: the fast path is taken for the layouts
// image/jpeg decodes to, and refused for others.
func TestFlipPlanesTakesJPEGLayouts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		img  image.Image
		want bool
	}{
		{image.NewYCbCr(image.Rect(0, 0, 5, 3), image.YCbCrSubsampleRatio420), true},
		{image.NewYCbCr(image.Rect(0, 0, 5, 3), image.YCbCrSubsampleRatio422), true},
		{image.NewYCbCr(image.Rect(0, 0, 5, 3), image.YCbCrSubsampleRatio444), true},
		{image.NewGray(image.Rect(0, 0, 5, 3)), true},
		{image.NewCMYK(image.Rect(0, 0, 5, 3)), false},
		{image.NewNRGBA(image.Rect(0, 0, 5, 3)), false},
		{image.NewYCbCr(image.Rect(0, 1, 5, 4), image.YCbCrSubsampleRatio420), false},
	} {
		if _, ok := flipPlanes(tt.img); ok != tt.want {
			t.Errorf("%T %v: fast path %v, want %v", tt.img, tt.img.Bounds(), ok, tt.want)
		}
	}
}
