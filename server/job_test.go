package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image/color"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/flipbench/flipbench/fixtures"
)

func TestFlipperPNGIsPixelExact(t *testing.T) {
	t.Parallel()
	src := mustFixture(t, fixtures.SmallPNG)
	dir := t.TempDir()
	f := &Flipper{Dir: dir}
	var out bytes.Buffer
	res, err := f.Run(context.Background(), Job{Source: bytes.NewReader(src), Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, dir)

	in, got := mustDecode(t, src), mustDecode(t, out.Bytes())
	b := in.Bounds()
	if res.Format != "png" || res.Width != b.Dx() || res.Height != b.Dy() {
		t.Errorf("got %s %dx%d, want png %dx%d", res.Format, res.Width, res.Height, b.Dx(), b.Dy())
	}
	if res.InputBytes != int64(len(src)) || res.OutputBytes != int64(out.Len()) {
		t.Errorf("got bytes %d -> %d, want %d -> %d", res.InputBytes, res.OutputBytes, len(src), out.Len())
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			want := color.NRGBAModel.Convert(in.At(x, b.Dy()-1-y))
			if c := color.NRGBAModel.Convert(got.At(x, y)); c != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v (source row %d)", x, y, c, want, b.Dy()-1-y)
			}
		}
	}
	if res.TotalMs <= 0 || res.DecodeMs <= 0 || res.EncodeMs <= 0 {
		t.Errorf("timings not measured: %+v", res.Timings)
	}
}

func TestFlipperJPEGMatchesFlipVWithinTolerance(t *testing.T) {
	t.Parallel()
	src := mustFixture(t, fixtures.SmallJPEG)
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := (&Flipper{Dir: dir, Quality: 90}).Run(context.Background(), Job{Source: bytes.NewReader(src), Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, dir)
	if res.Format != "jpeg" {
		t.Errorf("got format %s, want jpeg", res.Format)
	}
	in := mustDecode(t, src)
	got := mustDecode(t, out.Bytes())
	want := imaging.FlipV(in)
	mean, worst := meanAbsDiff(t, got, want)
	// Re-encoding at quality 90 moves pixels by a few levels on average.
	if mean > 3 {
		t.Errorf("mean difference from imaging.FlipV = %.2f (max %d), want <= 3", mean, worst)
	}
	// And the check can fail: the unflipped input is far from the output.
	if unflipped, _ := meanAbsDiff(t, got, in); unflipped < 4*mean || unflipped < 5 {
		t.Errorf("output is as close to the unflipped input (%.2f) as to the flipped one (%.2f)", unflipped, mean)
	}
}

func TestFlipperRejectsBadInput(t *testing.T) {
	t.Parallel()
	png := mustFixture(t, fixtures.SmallPNG)
	tests := []struct {
		name      string
		src       []byte
		maxPixels int
		want      error
	}{
		{"garbage", []byte("this is not an image"), 0, ErrUnsupportedFormat},
		{"empty", nil, 0, ErrEmptySource},
		{"truncated png", png[:len(png)/2], 0, ErrCorruptImage},
		{"too many pixels", png, 100, ErrTooManyPixels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, err := (&Flipper{Dir: dir, MaxPixels: tt.maxPixels}).Run(context.Background(), Job{Source: bytes.NewReader(tt.src)})
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			assertEmptyDir(t, dir)
		})
	}
}

func TestFlipperStopsWhenContextIsDone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&Flipper{Dir: dir}).Run(ctx, Job{Source: bytes.NewReader(mustFixture(t, fixtures.SmallPNG))})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	assertEmptyDir(t, dir)
}

func TestCheckHeaderNeedsNoPixels(t *testing.T) {
	t.Parallel()
	// A PNG header claiming 100000x100000 pixels is refused from the header
	// alone: nothing of that size is ever allocated.
	ihdr := []byte("IHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00")
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	_, _, _, err := checkHeader(&b, DefaultMaxPixels)
	if !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("got %v, want ErrTooManyPixels", err)
	}
	if !strings.Contains(err.Error(), "100000x100000") {
		t.Errorf("error %q does not name the size", err)
	}
}
