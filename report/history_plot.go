package report

import (
	"fmt"
	"image/color"
	"io"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/results"
)

// historyCaption says how to read a history's plot.
const historyCaption = "Each panel is one metric's series over the runs, oldest first, each run named by its commit on the x axis. A red line is a change point that history check found, between the last run before the change and the first after it, labelled with that commit and the change; the grey steps are the medians of the segments between change points."

// WriteHistoryPlot draws each series of c (those of two runs or more) in
// a panel of its own, its change points marked, in format: html (one
// self-contained page, the check's table under it), svg or png.
func WriteHistoryPlot(w io.Writer, c *history.CheckResult, format string) error {
	var panels []*plot.Plot
	for _, s := range c.Series {
		if len(s.Points) >= 2 {
			panels = append(panels, seriesPlot(s))
		}
	}
	if len(panels) == 0 {
		return fmt.Errorf("plot: no series of two runs or more to draw (%d runs)", c.Runs)
	}
	title := fmt.Sprintf("flipbench history: %d runs", c.Runs)
	return writeFigure(w, format, title, historyCaption, panels, func(w io.Writer) error { return WriteCheck(w, c, FormatTable) })
}

// seriesPlot is one series: its points, the medians of its segments
// and its change points.
func seriesPlot(s history.SeriesCheck) *plot.Plot {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%s, %s)", s.Metric, s.Branch, s.Setup)
	p.Y.Label.Text = s.Metric
	if s.Unit != "" {
		p.Y.Label.Text += " (" + s.Unit + ")"
	}
	p.Add(plotter.NewGrid())
	pts := make(plotter.XYs, len(s.Points))
	for i, pt := range s.Points {
		pts[i] = plotter.XY{X: float64(i), Y: pt.Value}
	}
	if line, points, err := plotter.NewLinePoints(pts); err == nil {
		line.Color, points.Color = palette[0], palette[0]
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points)
	}
	p.Add(segmentMedians(s))
	for _, cp := range s.ChangePoints {
		addChangeLine(p, s, cp)
	}
	p.X.Tick.Marker = commitTicks(s.Points)
	p.X.Tick.Label.Rotation = 0.6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.X.Min, p.X.Max = -0.5, float64(len(s.Points))-0.5
	return p
}

// segmentMedians draws the median of each segment between change points
// as a grey step.
func segmentMedians(s history.SeriesCheck) plot.Plotter {
	var pts plotter.XYs
	lo := 0
	bounds := []int{}
	for _, cp := range s.ChangePoints {
		bounds = append(bounds, cp.Index)
	}
	bounds = append(bounds, len(s.Points))
	for _, hi := range bounds {
		vals := make([]float64, 0, hi-lo)
		for _, pt := range s.Points[lo:hi] {
			vals = append(vals, pt.Value)
		}
		slices.Sort(vals)
		m := results.Percentile(vals, 50)
		pts = append(pts, plotter.XY{X: float64(lo) - 0.5, Y: m}, plotter.XY{X: float64(hi) - 0.5, Y: m})
		lo = hi
	}
	line, _ := plotter.NewLine(pts)
	line.Color = color.Gray{Y: 150}
	line.Width = vg.Points(2)
	return line
}

// addChangeLine draws a change point: a red vertical line between the
// runs either side, labelled with the first run's commit and the change.
func addChangeLine(p *plot.Plot, s history.SeriesCheck, cp history.NamedChange) {
	x := float64(cp.Index) - 0.5
	lo, hi := s.Points[0].Value, s.Points[0].Value
	for _, pt := range s.Points {
		lo, hi = min(lo, pt.Value), max(hi, pt.Value)
	}
	line, err := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
	if err != nil {
		return
	}
	line.Color = color.RGBA{R: 200, A: 255}
	line.Width = vg.Points(2)
	change := fmt.Sprintf("%+.1f%%", cp.ChangePct)
	if cp.Before == 0 {
		change = fmt.Sprintf("from 0 to %.3g", cp.After)
	}
	label, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: hi}}, Labels: []string{" " + short(cp.Commit) + " " + change}})
	if err == nil {
		label.TextStyle[0].Color = line.Color
		p.Add(line, label)
		return
	}
	p.Add(line)
}

// commitTicks names the runs by their commits on the x axis: every run
// when there are few, every k-th of many.
func commitTicks(points []history.Point) plot.Ticker {
	step := max(1, (len(points)+24)/25)
	var ticks []plot.Tick
	for i, pt := range points {
		t := plot.Tick{Value: float64(i)}
		if i%step == 0 {
			t.Label = shortCommit(pt.Commit)
		}
		ticks = append(ticks, t)
	}
	return plot.ConstantTicks(ticks)
}

// shortCommit fits a commit under a tick: 8 characters.
func shortCommit(s string) string { return s[:min(8, len(s))] }
