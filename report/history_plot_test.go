package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/flipbench/flipbench/history"
)

// stepCheck is a check of one series of 16 runs whose last 8 are 30%
// slower, with its change point at the ninth run.
func stepCheck() *history.CheckResult {
	s := history.SeriesCheck{Series: history.Series{Metric: "cluster.service", Unit: "ms", Branch: "main", Setup: "cpus=2"}}
	for i := range 16 {
		v := 100.0 + float64(i%3)
		if i >= 8 {
			v *= 1.3
		}
		s.Points = append(s.Points, history.Point{Commit: fmt.Sprintf("commit%02d", i), Value: v})
	}
	s.ChangePoints = []history.NamedChange{{ChangePoint: history.ChangePoint{Index: 8, Before: 101, After: 131.3, ChangePct: 30, P: 0.005}, Commit: "commit08", Bad: true}}
	s.Since, s.Steps, s.ChangePct, s.Regressed, s.Gated = &s.ChangePoints[0], 1, 30, true, true
	return &history.CheckResult{Runs: 16, MinChange: 0.05, Series: []history.SeriesCheck{s}}
}

func redShare(img image.Image) float64 {
	b := img.Bounds()
	red, n := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			// Red, anti-aliased or not: the line is thin.
			if c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA); c.R > 150 && c.G < 110 && c.B < 110 {
				red++
			}
			n++
		}
	}
	return float64(red) / float64(n)
}

func TestHistoryPlot(t *testing.T) {
	t.Parallel()
	var page bytes.Buffer
	if err := WriteHistoryPlot(&page, stepCheck(), "html"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "commit08 +30.0%", "FAIL: cluster.service rose by 30.0% at commit08"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	var shot bytes.Buffer
	if err := WriteHistoryPlot(&shot, stepCheck(), "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&shot)
	if err != nil {
		t.Fatal(err)
	}
	if red := redShare(img); red < 0.0005 {
		t.Errorf("the change point's red line covers %.4f of the figure: not drawn", red)
	}
	if err := WriteHistoryPlot(&shot, &history.CheckResult{Runs: 1}, "html"); err == nil {
		t.Error("a history of one run plotted: want an error")
	}
}

// TestHistoryPlotInChromium: the trend page renders in a browser, with
// the change point visible.
func TestHistoryPlotInChromium(t *testing.T) {
	var page bytes.Buffer
	if err := WriteHistoryPlot(&page, stepCheck(), "html"); err != nil {
		t.Fatal(err)
	}
	img := chromiumShot(t, page.Bytes())
	if red, blue := redShare(img), func() float64 { b, _ := paletteShare(img); return b }(); red < 0.0001 || blue < 0.0002 {
		t.Errorf("the screenshot shows the change point's red on %.4f and the series' blue on %.4f of the page: not rendered", red, blue)
	}
}
