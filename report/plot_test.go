package report

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flipbench/flipbench/results"
)

func TestPlotFormatOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"a.html": "html", "b.SVG": "svg", "c.png": "png", "d.pdf": ""} {
		got, err := PlotFormatOf(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("PlotFormatOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// paletteShare is the share of pixels in the palette's first two colours,
// the standard worker's and the cluster's second worker's bars.
func paletteShare(img image.Image) (blue, orange float64) {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			switch {
			case near(c, palette[0]):
				blue++
			case near(c, palette[1]):
				orange++
			}
			n++
		}
	}
	return blue / float64(n), orange / float64(n)
}

func near(c color.NRGBA, want color.Color) bool {
	w := color.NRGBAModel.Convert(want).(color.NRGBA)
	d := func(a, b uint8) int { return max(int(a)-int(b), int(b)-int(a)) }
	return d(c.R, w.R) < 12 && d(c.G, w.G) < 12 && d(c.B, w.B) < 12
}

func TestBenchPlotPNG(t *testing.T) {
	t.Parallel()
	run := mustReadRun(t, "run.json")
	var buf bytes.Buffer
	if err := WriteBenchPlot(&buf, run, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 800 {
		t.Errorf("plot is %v, want a readable figure", b)
	}
	// The bars are there: the one standard worker's colour and the
	// cluster's second worker's both cover a visible part of the figure.
	blue, orange := paletteShare(img)
	if blue < 0.02 || orange < 0.005 {
		t.Errorf("worker colours cover %.3f and %.3f of the figure: the timelines did not draw", blue, orange)
	}
}

func TestBenchPlotSVGHasABarPerRequest(t *testing.T) {
	t.Parallel()
	run := mustReadRun(t, "run.json")
	var buf bytes.Buffer
	if err := WriteBenchPlot(&buf, run, "svg"); err != nil {
		t.Fatal(err)
	}
	if err := xml.NewDecoder(bytes.NewReader(buf.Bytes())).Decode(new(any)); err != nil && err != io.EOF {
		t.Fatalf("not XML: %v", err)
	}
	// A bar is a filled path in a worker's colour: 10 requests per mode.
	bars := strings.Count(buf.String(), "fill:#1F77B4") + strings.Count(buf.String(), "fill:#FF7F0E") +
		strings.Count(buf.String(), "fill:#1f77b4") + strings.Count(buf.String(), "fill:#ff7f0e")
	if bars < 20 {
		t.Errorf("%d bars in worker colours, want at least 20 (10 requests a mode)", bars)
	}
}

var networkRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|<script|@import|url\((["']?)https?:`)

func TestHTMLPlotIsSelfContained(t *testing.T) {
	t.Parallel()
	run := mustReadRun(t, "run.json")
	var buf bytes.Buffer
	if err := WriteBenchPlot(&buf, run, "html"); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if m := networkRef.FindString(page); m != "" {
		t.Errorf("the page refers to the network or runs a script: %q", m)
	}
	for _, want := range []string{"<!DOCTYPE html>", "<svg", "speedup", "| cluster  |"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestLoadPlotWithoutResponses(t *testing.T) {
	t.Parallel()
	sum := mustReadJSON[results.Summary](t, "load-refused.json")
	for _, format := range []string{"png", "svg", "html"} {
		if err := WriteLoadPlot(io.Discard, sum, format); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
}

// TestHTMLPlotInChromium renders the page in headless Chromium when the
// machine has it (Debian's chromium package); scripts/check-plot-in-chromium
// is the same check by hand.
func TestHTMLPlotInChromium(t *testing.T) {
	var page bytes.Buffer
	if err := WriteBenchPlot(&page, mustReadRun(t, "run.json"), "html"); err != nil {
		t.Fatal(err)
	}
	img := chromiumShot(t, page.Bytes())
	if blue, orange := paletteShare(img); blue < 0.01 || orange < 0.002 {
		t.Errorf("the screenshot shows worker colours on %.3f and %.3f of the page: the figure did not render", blue, orange)
	}
}

// chromiumShot renders an HTML page in headless Chromium and returns the
// screenshot; the test skips where there is no Chromium.
func chromiumShot(t *testing.T, page []byte) image.Image {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("no chromium on this machine (apt-get install chromium)")
	}
	dir := t.TempDir()
	html, shot := filepath.Join(dir, "page.html"), filepath.Join(dir, "shot.png")
	if err := os.WriteFile(html, page, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("../scripts/check-plot-in-chromium", html, shot).CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
