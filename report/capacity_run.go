package report

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/flipbench/flipbench/results"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writeCapacityTable writes a capacity run: each arm's capacity at the
// SLOs, its speedup and efficiency over standard's, what it used at
// capacity, then each arm's steps and the notes.
func writeCapacityTable(w io.Writer, r *results.Run, markdown bool) error {
	para := paragraphs(w, markdown)
	if markdown {
		fmt.Fprintf(w, "**%s**\n\n", capacityTitle(r))
	} else {
		fmt.Fprintf(w, "%s\n\n", capacityTitle(r))
	}
	slos, _ := results.ParseSLOs(r.Config.SLOs)
	header := row{"arm", "workers", "capacity", "speedup", "efficiency", "p50"}
	for _, s := range slos {
		if s.P > 0 {
			header = append(header, fmt.Sprintf("p%g", s.P))
		}
	}
	header = append(header, "server CPU", "CPU/request", "steps", "held")
	var rows []row
	for _, a := range r.Arms {
		rows = append(rows, capacityRow(r, a, slos))
	}
	if err := render(w, markdown, header, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, a := range r.Arms {
		if s := r.SearchOf(a.Name); s != nil && len(s.Steps) > 0 {
			para(stepsLine(a.Name, s))
		}
	}
	for _, n := range capacityNotes(r) {
		para(n)
	}
	return nil
}

// capacityTitle says what was searched: the SLOs, the servers, the
// machine.
func capacityTitle(r *results.Run) string {
	what := fmt.Sprintf("POST /flip of %s %dx%d (%s)", imageBase(r.Config.Image.Name), r.Config.Image.Width, r.Config.Image.Height, Bytes(r.Config.Image.Bytes))
	if r.Config.StandardCmd != "" {
		what = fmt.Sprintf("POST %s; standard: %s; cluster: %s", r.Config.URL, r.Config.StandardCmd, r.Config.ClusterCmd)
	}
	title := fmt.Sprintf("capacity at %s (open-loop steps, bisected to %.0f%%): %s; %d CPUs (%s)",
		strings.Join(r.Config.SLOs, " and "), 100*r.Config.Resolution, what, r.Env.NumCPU, r.Env.CPU)
	if r.Interrupted {
		title += "; INTERRUPTED: partial results"
	}
	return title
}

// capacityRow is an arm's row: "-" where a figure is unknown.
func capacityRow(r *results.Run, a results.Arm, slos []results.SLO) row {
	c := a.Capacity
	if c == nil {
		c = &results.ArmCapacity{}
	}
	capCell, speed, eff := "none", "-", "-"
	if c.Rate > 0 {
		capCell = fmt.Sprintf("%s req/s", rate(c.Rate))
		if c.Unconfirmed {
			capCell += " (unconfirmed)"
		}
	}
	if !results.Scaled(a.Mode) {
		speed = "1.00x (baseline)"
	} else if c.Speedup > 0 {
		speed, eff = fmt.Sprintf("%.2fx", c.Speedup), fmt.Sprintf("%.2f", c.Efficiency)
	}
	at := func(ms float64) string {
		if c.Rate == 0 || ms < 0 {
			return "-"
		}
		return Duration(ms)
	}
	out := row{a.Name, strconv.Itoa(a.Workers), capCell, speed, eff, at(c.P50Ms)}
	i := 0 // Ms holds the latency SLOs' percentiles, in their order
	for _, s := range slos {
		if s.P > 0 {
			v := -1.0
			if i < len(c.Ms) {
				v = c.Ms[i]
			}
			out = append(out, at(v))
			i++
		}
	}
	cores, perReq := "-", "-"
	if c.ServerCores > 0 {
		cores = fmt.Sprintf("%.2f cores", c.ServerCores)
	}
	if c.CPUPerRequestMs > 0 {
		perReq = Duration(c.CPUPerRequestMs)
	}
	took := "-"
	if s := r.SearchOf(a.Name); s != nil {
		took = Duration(s.StepsMs())
	}
	return append(out, cores, perReq, strconv.Itoa(c.Steps), took)
}

// stepsLine lists an arm's steps in the order they ran: "standard: 1/s
// ok, 2/s ok, 4/s FAIL (p99 3.41s > 3s), ...".
func stepsLine(arm string, s *results.Search) string {
	var parts []string
	for _, st := range s.Steps {
		parts = append(parts, fmt.Sprintf("%s/s %s", rate(st.Rate), stepWord(st)))
	}
	line := fmt.Sprintf("%s steps: %s", arm, strings.Join(parts, ", "))
	if s.OutOfBudget {
		line += "; out of budget"
	}
	return line
}

// capacityNotes say how to read the table and what to distrust.
func capacityNotes(r *results.Run) []string {
	notes := []string{fmt.Sprintf("capacity: the highest offered rate at which every SLO was met and the server answered at %g%% of the rate or more, held twice (the second hold confirms it); p50 and the SLO's percentiles, server CPU (the server's process tree's CPU time over the step's wall time) and CPU/request: at capacity; speedup: capacity over standard's; efficiency: speedup per worker; held: the time of the arm's own steps", 100*r.Config.MinKeptUp)}
	repeated, unconfirmed := 0, []string{}
	for _, s := range r.Searches {
		for _, st := range s.Steps {
			if st.Repeated {
				repeated++
			}
		}
		switch {
		case s.OutOfBudget:
			unconfirmed = append(unconfirmed, s.Arm+" (out of budget: a longer --budget finishes the search)")
		case s.Ceiling:
			unconfirmed = append(unconfirmed, s.Arm+" (met the SLOs at the highest rate a step may hold: 100,000 requests over --hold)")
		case s.Unsettled:
			unconfirmed = append(unconfirmed, s.Arm+" (three confirmations failed: its capacity moved more than the resolution; see its steps)")
		}
	}
	if r.Config.BudgetMs > 0 {
		notes = append(notes, fmt.Sprintf("budget %s: the bench took %s", Duration(r.Config.BudgetMs), Duration(r.WallMs)))
	}
	if len(unconfirmed) > 0 {
		notes = append(notes, "(!) unconfirmed, the highest rate that passed once: "+strings.Join(unconfirmed, "; "))
	}
	if repeated > 0 {
		notes = append(notes, fmt.Sprintf("%d step(s) disturbed (other processes took more than %.2f of a core) and held again; only the repeat counts", repeated, results.DisturbedCores))
	}
	for _, c := range r.CapacityScaling {
		notes = append(notes, "capacity "+scalingLine(c))
	}
	return notes
}

// rate prints a rate to three significant figures: "0.742", "12.5", "210".
func rate(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// writeCapacityPlot draws a capacity run: each arm's latency against the
// offered rate (its median, and the first latency SLO's percentile, a
// point a step; a failed step hollow), the SLO's bound across, so that
// the knee where latency leaves the bound shows; then, with clusters of
// several sizes, the capacity scaling curve with its fit.
func writeCapacityPlot(w io.Writer, r *results.Run, format string) error {
	slos, _ := results.ParseSLOs(r.Config.SLOs)
	panels := []*plot.Plot{latencyThroughputPlot(r, slos)}
	if len(r.CapacityScaling) > 0 {
		panels = append(panels, scalingPlot(r.CapacityScaling, "capacity speedup"))
	}
	var caps []string
	for _, a := range r.Arms {
		if a.Capacity != nil {
			caps = append(caps, fmt.Sprintf("%s %s/s", a.Name, rate(a.Capacity.Rate)))
		}
	}
	title := fmt.Sprintf("flipbench bench --capacity at %s, %d CPUs: %s", strings.Join(r.Config.SLOs, " and "), r.Env.NumCPU, strings.Join(caps, ", "))
	return writeFigure(w, format, title, capacityCaption, panels, func(w io.Writer) error { return writeCapacityTable(w, r, false) })
}

const capacityCaption = "Each point is one step of a search: a rate held open loop (arrivals follow the clock), at the median latency (dashed) and at the SLO's percentile (solid); hollow points failed an SLO. Latency stays flat while the server keeps up and leaves the SLO's bound at the knee: the capacity."

// latencyThroughputPlot draws each arm's latency–throughput curve, on a
// logarithmic latency axis (past the knee, latency grows by tens).
func latencyThroughputPlot(r *results.Run, slos []results.SLO) *plot.Plot {
	slo, hasSLO := results.LatencySLO(slos) // the first: Ms[0]
	p := plot.New()
	p.Title.Text = "latency against offered rate, a point a step: p50 dashed, the SLO's percentile solid, hollow where the step failed"
	if !hasSLO {
		p.Title.Text = "latency against offered rate, a point a step: p50, hollow where the step failed"
	}
	p.X.Label.Text = "offered rate (requests a second)"
	p.Y.Label.Text = "latency (seconds, log scale)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	top := 0.0
	for i, a := range r.Arms {
		s := r.SearchOf(a.Name)
		if s == nil {
			continue
		}
		steps := slices.DeleteFunc(slices.Clone(s.Steps), func(st results.CapacityStep) bool { return st.Repeated })
		slices.SortStableFunc(steps, func(x, y results.CapacityStep) int { return cmp.Compare(x.Rate, y.Rate) })
		clr := palette[i%len(palette)]
		label := fmt.Sprintf("%s (capacity %s/s)", a.Name, rate(a.CapacityRate()))
		median := func(st results.CapacityStep) float64 { return st.P50Ms }
		if line := addCurve(p, steps, median, clr, hasSLO); line != nil && !hasSLO {
			p.Legend.Add(label, line)
		}
		if hasSLO {
			pick := func(st results.CapacityStep) float64 {
				if len(st.Ms) > 0 {
					return st.Ms[0]
				}
				return -1
			}
			if line := addCurve(p, steps, pick, clr, false); line != nil {
				p.Legend.Add(label, line)
			}
		}
		for _, st := range steps {
			top = max(top, st.Rate)
		}
	}
	if hasSLO && top > 0 {
		if bound, err := plotter.NewLine(plotter.XYs{{X: 0, Y: slo.MaxMs / 1000}, {X: top * 1.05, Y: slo.MaxMs / 1000}}); err == nil {
			bound.Color = color.RGBA{200, 0, 0, 255}
			bound.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
			p.Add(bound)
			p.Legend.Add("SLO: "+slo.String(), bound)
		}
	}
	p.X.Min = 0
	if hasSLO {
		p.Y.Max = max(p.Y.Max, slo.MaxMs/1000)
	}
	// Room above the curves for the legend, a decade on the log scale.
	p.Y.Min, p.Y.Max = p.Y.Min/2, p.Y.Max*10
	p.Legend.Top, p.Legend.Left = true, true
	return p
}

// addCurve draws the latency of of each step against its rate: a line
// through them, a point each, filled when the step passed. It returns
// the line, for a legend; nil when no step has a latency.
func addCurve(p *plot.Plot, steps []results.CapacityStep, of func(results.CapacityStep) float64, clr color.Color, dashed bool) *plotter.Line {
	var pts, passed, failed plotter.XYs
	for _, st := range steps {
		ms := of(st)
		if ms <= 0 {
			continue // nothing answered: no latency to draw on a log axis
		}
		pt := plotter.XY{X: st.Rate, Y: ms / 1000}
		pts = append(pts, pt)
		if st.Passed {
			passed = append(passed, pt)
		} else {
			failed = append(failed, pt)
		}
	}
	if len(pts) == 0 {
		return nil
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil
	}
	line.Color, line.Width = clr, vg.Points(1.5)
	if dashed {
		line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(line)
	for _, set := range []struct {
		pts   plotter.XYs
		glyph draw.GlyphDrawer
	}{{passed, draw.CircleGlyph{}}, {failed, draw.RingGlyph{}}} {
		if sc, err := plotter.NewScatter(set.pts); err == nil && len(set.pts) > 0 {
			sc.Color, sc.Shape, sc.Radius = clr, set.glyph, vg.Points(3)
			p.Add(sc)
		}
	}
	return line
}

// StepVerdict is one step in a line: "4/s FAIL (p99 3.41s > 3s): p50
// 1.20 s, p99 3.41 s, 40 requests, 0.0% errors".
func StepVerdict(st results.CapacityStep, slos []results.SLO) string {
	lat := []string{"p50 " + Duration(st.P50Ms)}
	i := 0
	for _, s := range slos {
		if s.P == 0 {
			continue
		}
		if i < len(st.Ms) && st.Ms[i] >= 0 && s.P != 50 {
			lat = append(lat, fmt.Sprintf("p%g %s", s.P, Duration(st.Ms[i])))
		}
		i++
	}
	return fmt.Sprintf("%s/s %s: %s, %d requests, %.1f%% errors", rate(st.Rate), stepWord(st), strings.Join(lat, ", "), st.Requests, 100*st.ErrorRate)
}

// stepWord is a step's verdict: "ok", "FAIL (p99 3.41s > 3s)", "disturbed,
// held again".
func stepWord(st results.CapacityStep) string {
	switch {
	case st.Repeated:
		return "disturbed, held again"
	case !st.Passed:
		return "FAIL (" + st.Why + ")"
	}
	return "ok"
}
