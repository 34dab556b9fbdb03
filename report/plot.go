package report

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/flipbench/flipbench/results"
)

// PlotFormatOf returns the plot format a file name asks for by its
// extension: html, svg or png.
func PlotFormatOf(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".html", ".htm":
		return "html", nil
	case ".svg":
		return "svg", nil
	case ".png":
		return "png", nil
	default:
		return "", fmt.Errorf("plot %s: want a .html, .svg or .png file", path)
	}
}

// WriteBenchPlot draws a bench run: each arm's requests on a timeline
// (one bar per request, from send to response, one colour per worker
// PID), for the round whose speedup is that arm's median (the standard
// arm: the first cluster's), the latency distribution of each arm over
// every round, and, when the run measured clusters of several sizes,
// the scaling curve: the measured speedups, the Universal Scalability
// Law fitted to them and the ideal. format is html (one self-contained
// page, nothing fetched when viewed), svg or png.
func WriteBenchPlot(w io.Writer, r *results.Run, format string) error {
	if r.Capacity() {
		return writeCapacityPlot(w, r, format)
	}
	// The round to draw of each arm, by the median of its speedups; a
	// round without one counts as 0.
	rounds := make([]int, len(r.Arms))
	for i, a := range r.Arms {
		name := a.Name
		if a.Mode == results.Standard {
			name = r.Primary().Name
		}
		speedups := make([]float64, len(r.Rounds))
		for j := range r.Rounds {
			speedups[j] = r.Rounds[j].Side(name).Speedup
		}
		rounds[i] = medianRound(speedups)
	}
	var panels []*plot.Plot
	xmax := 0.0
	for i := range r.Arms {
		if rounds[i] < len(r.Rounds) {
			for _, rec := range r.Rounds[rounds[i]].Arms[i].Results {
				xmax = math.Max(xmax, rec.EndMs/1000)
			}
		}
	}
	var series []latencySeries
	for i, a := range r.Arms {
		var recs, all []results.Record
		if rounds[i] < len(r.Rounds) {
			recs = r.Rounds[rounds[i]].Arms[i].Results
		}
		for _, rd := range r.Rounds {
			all = append(all, rd.Arms[i].Results...)
		}
		title := fmt.Sprintf("%s, %d worker(s): round %d of %d, last response %s", a.Name, a.Workers, rounds[i]+1, len(r.Rounds), lastOf(recs))
		if a.Sched != "" {
			title = fmt.Sprintf("%s, %d worker(s), dispatch %s: round %d of %d, last response %s", a.Name, a.Workers, a.Sched, rounds[i]+1, len(r.Rounds), lastOf(recs))
		}
		panels = append(panels, timelinePlot(title, recs, xmax))
		series = append(series, latencySeries{a.Name, all})
	}
	panels = append(panels, latencyPlot("latency distribution, every round", series))
	if len(r.Scaling) > 0 {
		panels = append(panels, scalingPlot(r.Scaling, "speedup"))
	}
	title := fmt.Sprintf("flipbench bench: %d concurrent requests, speedup %.2fx, %d CPUs", r.Config.N, r.Primary().Speedup.Median, r.Env.NumCPU)
	if cl := r.Scaled(); len(cl) > 1 {
		var parts []string
		for _, a := range cl {
			parts = append(parts, fmt.Sprintf("%s %.2fx", a.Name, a.Speedup.Median))
		}
		title = fmt.Sprintf("flipbench bench: %d concurrent requests, %d CPUs; speedup %s", r.Config.N, r.Env.NumCPU, strings.Join(parts, ", "))
	}
	return writeFigure(w, format, title, requestsCaption, panels, func(w io.Writer) error { return writeBenchTable(w, r, false) })
}

// scalingPlot draws each curve's measured speedups by cluster size, the
// fitted law through them, and the ideal (speedup = workers); what
// names the speedup: "speedup", "capacity speedup".
func scalingPlot(curves []results.Curve, what string) *plot.Plot {
	p := plot.New()
	p.Title.Text = what + " by cluster size: measured, Universal Scalability Law fit, ideal"
	p.X.Label.Text = "workers"
	p.Y.Label.Text = what + " over one worker"
	p.Add(plotter.NewGrid())
	top := 1
	for _, c := range curves {
		top = max(top, c.Points[len(c.Points)-1].Workers)
	}
	xs := func(f func(float64) float64) plotter.XYs {
		var pts plotter.XYs
		for x := 1.0; x <= float64(top)+1e-9; x += 0.1 {
			pts = append(pts, plotter.XY{X: x, Y: f(x)})
		}
		return pts
	}
	if ideal, err := plotter.NewLine(xs(func(x float64) float64 { return x })); err == nil {
		ideal.Color = color.RGBA{127, 127, 127, 255}
		ideal.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		p.Add(ideal)
		p.Legend.Add("ideal (speedup = workers)", ideal)
	}
	for i, c := range curves {
		clr := palette[i%len(palette)]
		pts := plotter.XYs{{X: 1, Y: 1}} // the standard arm, by definition
		for _, pt := range c.Points {
			pts = append(pts, plotter.XY{X: float64(pt.Workers), Y: pt.Speedup})
		}
		name := cmp.Or(c.Name(), "cluster")
		if sc, err := plotter.NewScatter(pts); err == nil {
			sc.Color = clr
			sc.Shape = draw.CircleGlyph{}
			sc.Radius = vg.Points(4)
			p.Add(sc)
			measured := ": measured (median)"
			if what != "speedup" {
				measured = ": measured" // a capacity is one search's
			}
			p.Legend.Add(name+measured, sc)
		}
		if c.Fit != nil {
			if fit, err := plotter.NewLine(xs(c.Fit.Speedup)); err == nil {
				fit.Color = clr
				fit.Width = vg.Points(2)
				p.Add(fit)
				p.Legend.Add(fmt.Sprintf("%s: fit, sigma %.3f, kappa %.4f", name, c.Fit.Sigma, c.Fit.Kappa), fit)
			}
		}
	}
	p.X.Min, p.X.Max = 0.8, float64(top)+0.2
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

// WriteLoadPlot draws a load run: its requests on a timeline for the
// round whose last response is the median, and the latency distribution.
func WriteLoadPlot(w io.Writer, s *results.Summary, format string) error {
	lasts := make([]float64, len(s.RoundStats))
	for i, rs := range s.RoundStats {
		lasts[i] = rs.LastMs
	}
	round := medianRound(lasts) + 1
	var recs []results.Record
	for _, r := range s.Results {
		if r.Round == round {
			recs = append(recs, r)
		}
	}
	xmax := 0.0
	for _, r := range recs {
		xmax = math.Max(xmax, r.EndMs/1000)
	}
	panels := []*plot.Plot{
		timelinePlot(fmt.Sprintf("%s %s: round %d of %d, last response %s", s.Method, s.URL, round, len(s.RoundStats), lastOf(recs)), recs, xmax),
		latencyPlot("latency distribution, every round", []latencySeries{{"load", s.Results}}),
	}
	title := fmt.Sprintf("flipbench load: %s of %d, %d requests", s.Mode, s.N, s.Requests)
	return writeFigure(w, format, title, requestsCaption, panels, func(w io.Writer) error { return writeLoadTables(w, s, false) })
}

// medianRound is the index of the value closest to the median: the most
// representative round to draw.
func medianRound(v []float64) int {
	if len(v) == 0 {
		return 0
	}
	med := results.Percentile(slices.Sorted(slices.Values(v)), 50)
	best := 0
	for i, x := range v {
		if math.Abs(x-med) < math.Abs(v[best]-med) {
			best = i
		}
	}
	return best
}

func lastOf(recs []results.Record) string {
	last := 0.0
	for _, r := range recs {
		last = math.Max(last, r.EndMs)
	}
	return Duration(last)
}

// palette holds colours that stay apart for the first workers; more
// workers reuse them.
var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255}, color.RGBA{188, 189, 34, 255},
	color.RGBA{23, 190, 207, 255},
}

var failedColor = color.RGBA{0, 0, 0, 255}

// timeline is a plotter: one horizontal bar per request, from when it
// was sent to when its response arrived, in seconds.
type timeline struct {
	recs   []results.Record // sorted by send time
	colors map[int]color.Color
}

func (t timeline) Plot(c draw.Canvas, p *plot.Plot) {
	x, y := p.Transforms(&c)
	for i, r := range t.recs {
		clr := t.colors[r.PID]
		if !r.OK() {
			clr = failedColor
		}
		x0, x1 := x(r.SentMs/1000), x(r.EndMs/1000)
		if x1-x0 < 1 {
			x1 = x0 + 1 // a zero-length failure is still visible
		}
		y0, y1 := y(float64(i)+0.1), y(float64(i)+0.9)
		c.FillPolygon(clr, c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}))
	}
}

func (t timeline) DataRange() (xmin, xmax, ymin, ymax float64) {
	for _, r := range t.recs {
		xmax = math.Max(xmax, r.EndMs/1000)
	}
	return 0, xmax, 0, float64(len(t.recs))
}

// swatch is a legend thumbnail of one colour.
type swatch struct{ color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.Color, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

func timelinePlot(title string, recs []results.Record, xmax float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since the burst (bar: request sent to response)"
	p.Y.Label.Text = "request"
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b results.Record) int {
		if a.SentMs != b.SentMs {
			return cmp.Compare(a.SentMs, b.SentMs)
		}
		return int(a.Seq) - int(b.Seq)
	})
	var pids []int
	for _, r := range sorted {
		if r.PID != 0 && !slices.Contains(pids, r.PID) {
			pids = append(pids, r.PID)
		}
	}
	slices.Sort(pids)
	colors := map[int]color.Color{}
	for i, pid := range pids {
		colors[pid] = palette[i%len(palette)]
		p.Legend.Add(fmt.Sprintf("pid %d", pid), swatch{colors[pid]})
	}
	if slices.ContainsFunc(sorted, func(r results.Record) bool { return !r.OK() }) {
		p.Legend.Add("failed", swatch{failedColor})
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid(), timeline{recs: sorted, colors: colors}) // the grid under the bars
	p.X.Min, p.X.Max = 0, math.Max(xmax*1.02, 0.001)
	// Headroom above the last bar for the legend's first entries.
	p.Y.Min, p.Y.Max = 0, math.Max(float64(len(sorted))+0.3*float64(len(pids)+1)+0.5, 1)
	return p
}

type latencySeries struct {
	name string
	recs []results.Record
}

// latencyPlot draws each series' latency distribution as a cumulative
// curve: at x seconds, the share of requests answered within x.
func latencyPlot(title string, series []latencySeries) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "latency (seconds)"
	p.Y.Label.Text = "share of requests answered"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, s := range series {
		var lat []float64
		for _, r := range s.recs {
			if r.Status != 0 {
				lat = append(lat, r.LatencyMs/1000)
			}
		}
		if len(lat) == 0 {
			continue
		}
		slices.Sort(lat)
		pts := make(plotter.XYs, 0, 2*len(lat)+1)
		pts = append(pts, plotter.XY{X: 0, Y: 0})
		for j, v := range lat { // a step per request
			pts = append(pts, plotter.XY{X: v, Y: float64(j) / float64(len(lat))}, plotter.XY{X: v, Y: float64(j+1) / float64(len(lat))})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			continue
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(2)
		p.Add(line)
		drawn++
		p.Legend.Add(fmt.Sprintf("%s (p50 %s)", s.name, Duration(1000*results.Percentile(lat, 50))), line)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	if drawn == 0 { // nothing answered: an empty axis from 0
		p.X.Min, p.X.Max = 0, 1
	}
	return p
}

// requestsCaption says how to read the timelines of load's and bench's
// plots.
const requestsCaption = "Each bar is one request, from when it was sent to when its response arrived; its colour is the worker process (X-Worker-Pid) that answered. One worker answers one request after another; several workers answer in waves."

// writeFigure renders the panels stacked in one figure, in format; an
// HTML page puts caption above it and table under it.
func writeFigure(w io.Writer, format, title, caption string, panels []*plot.Plot, table func(io.Writer) error) error {
	width, height := 10*vg.Inch, vg.Length(len(panels))*3.6*vg.Inch
	draw1 := func(c vg.CanvasSizer) {
		dc := draw.New(c)
		tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(8), PadBottom: vg.Points(8),
			PadLeft: vg.Points(8), PadRight: vg.Points(8), PadY: vg.Points(18)}
		grid := make([][]*plot.Plot, len(panels))
		for i, p := range panels {
			grid[i] = []*plot.Plot{p}
		}
		canvases := plot.Align(grid, tiles, dc)
		for i, p := range panels {
			p.Draw(canvases[i][0])
		}
	}
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))
		draw1(c)
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	case "svg", "html":
		c := vgsvg.New(width, height)
		draw1(c)
		if format == "svg" {
			_, err := c.WriteTo(w)
			return err
		}
		var svg bytes.Buffer
		if _, err := c.WriteTo(&svg); err != nil {
			return err
		}
		var tbl bytes.Buffer
		if err := table(&tbl); err != nil {
			return err
		}
		return writeHTML(w, title, caption, svg.String(), tbl.String())
	}
	return fmt.Errorf("unknown plot format %q (want html, svg or png)", format)
}

// writeHTML wraps the figure and the summary table in one page that needs
// nothing else: no script, no stylesheet, no font to fetch.
func writeHTML(w io.Writer, title, caption, svg, table string) error {
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:] // drop the XML prolog to inline it
	}
	_, err := fmt.Fprintf(w, `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%s</title>
<style>
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1000px; color: #222; }
svg { width: 100%%; height: auto; }
pre { font-size: 12px; overflow-x: auto; background: #f6f6f6; padding: 0.8em; }
</style>
</head>
<body>
<h1>%s</h1>
<p>%s</p>
%s
<h2>Summary</h2>
<pre>%s</pre>
</body>
</html>
`, html.EscapeString(title), html.EscapeString(title), html.EscapeString(caption), svg, html.EscapeString(table))
	return err
}
