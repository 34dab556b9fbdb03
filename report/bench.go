package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/flipbench/flipbench/results"
)

// BenchFormats lists the output formats of a bench run.
var BenchFormats = []string{FormatTable, FormatJSON, FormatMarkdown}

// WriteBench writes a bench run as a side-by-side table (or Markdown), or
// as the run file's JSON; a capacity run as its capacity table.
func WriteBench(w io.Writer, r *results.Run, format string) error {
	table := writeBenchTable
	if r.Capacity() {
		table = writeCapacityTable
	}
	switch format {
	case FormatTable:
		return table(w, r, false)
	case FormatMarkdown:
		return table(w, r, true)
	case FormatJSON:
		return WriteJSON(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %v)", format, BenchFormats)
}

// paragraphs writes a note under a table: a line, or in Markdown an
// italic paragraph.
func paragraphs(w io.Writer, markdown bool) func(string) {
	return func(s string) {
		if markdown {
			fmt.Fprintf(w, "\n_%s_\n", s)
		} else {
			fmt.Fprintln(w, s)
		}
	}
}

// writeBenchTable writes the arms side by side, then what a reader needs
// to trust the speedups: the notes, and the dispatch and scaling details
// when the run has them. Markdown writes the title in bold and the notes
// as italic paragraphs.
func writeBenchTable(w io.Writer, r *results.Run, markdown bool) error {
	para := paragraphs(w, markdown)
	if markdown {
		fmt.Fprintf(w, "**flipbench bench**: %s\n\n", benchTitle(r))
	} else {
		fmt.Fprintln(w, benchTitle(r))
	}
	if len(r.Rounds) == 0 {
		// Interrupted before a round finished: a table would be all dashes.
		var arms []string
		for _, a := range r.Arms {
			arms = append(arms, a.Name)
		}
		para(fmt.Sprintf("no round finished, so nothing was measured (arms: %s)", strings.Join(arms, ", ")))
		if len(r.CutShort) > 0 {
			para(cutShort(r))
		}
		return nil
	}
	header := row{"mode", "workers", "first", "last", "p50", "p99", "throughput", "errors", "speedup", "efficiency", "per worker"}
	if err := render(w, markdown, header, benchArmRows(r)); err != nil {
		return err
	}
	for _, s := range benchNotes(r) {
		para(s)
	}
	if len(r.CutShort) > 0 {
		para(cutShort(r))
	}
	if len(r.Rounds) > 0 && dispatchKnown(r) {
		if err := writeDispatchTable(w, r, markdown, para); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(r.Arms, func(a results.Arm) bool { return a.CPUPerRequestMs > 0 || a.PeakRSSMB > 0 }) {
		if err := writeCostTable(w, r, markdown, para); err != nil {
			return err
		}
	}
	for _, c := range r.Scaling {
		para(scalingLine(c))
	}
	return nil
}

// writeCostTable shows what each arm's server cost: the CPU time of its
// process tree a request, against its baseline's, and the peak of the
// tree's memory, whole and a worker.
func writeCostTable(w io.Writer, r *results.Run, markdown bool, para func(string)) error {
	if markdown {
		fmt.Fprintln(w)
	}
	header := row{"cost", "workers", "CPU a request", "vs baseline", "peak memory", "a worker"}
	var rows []row
	for _, a := range r.Arms {
		cpu, vs, peak, per := "-", "-", "-", "-"
		if a.CPUPerRequestMs > 0 {
			cpu = Duration(a.CPUPerRequestMs)
			if b := r.Arm(a.Baseline); b != nil && b.CPUPerRequestMs > 0 {
				vs = fmt.Sprintf("%.2fx", a.CPUPerRequestMs/b.CPUPerRequestMs)
			}
		}
		if a.PeakRSSMB > 0 {
			peak = fmt.Sprintf("%.1f MiB", a.PeakRSSMB)
			per = fmt.Sprintf("%.1f MiB", a.PeakRSSMB/float64(a.Workers))
		}
		rows = append(rows, row{a.Name, strconv.Itoa(a.Workers), cpu, vs, peak, per})
	}
	if err := render(w, markdown, header, rows); err != nil {
		return err
	}
	para(fmt.Sprintf("cost: of each server's whole process tree (supervisor, workers, any it forked again), medians over the rounds; CPU a request: user and system CPU time over the requests sent; peak memory: the highest sum of the tree's RSS, sampled every %.0f ms during each burst (not the sum of each process's own peak)", costSample(r)))
	return nil
}

// costSample is the sampling interval of the run's costs, in ms.
func costSample(r *results.Run) float64 {
	for _, rd := range r.Rounds {
		for _, s := range rd.Arms {
			if s.Cost != nil {
				return s.Cost.SampleMs
			}
		}
	}
	return 0
}

// benchTitle says what the run measured, so that a table pasted on its own
// still says what it compares: the load, the image and the machine, or
// the two commands when the servers were the user's.
func benchTitle(r *results.Run) string {
	img := r.Config.Image
	threads := fmt.Sprintf("%d thread(s) a worker", r.Config.Threads)
	if r.Config.Threads == 0 {
		threads = "all CPUs a worker"
	}
	if std := r.Standard(); std != nil && std.Sched != "" && len(r.Clusters()) == 1 {
		threads += ", dispatch " + std.Sched
	}
	title := fmt.Sprintf("%d concurrent POST /flip, %s; %s %dx%d (%s); %d CPUs (%s), %s",
		r.Config.N, plural(len(r.Rounds), "round"), imageBase(img.Name), img.Width, img.Height, Bytes(img.Bytes),
		r.Env.NumCPU, r.Env.CPU, threads)
	if r.Config.StandardCmd != "" {
		title = fmt.Sprintf("%d concurrent POST %s, %s; standard: %s; cluster: %s; %d CPUs (%s)",
			r.Config.N, r.Config.URL, plural(len(r.Rounds), "round"), r.Config.StandardCmd, r.Config.ClusterCmd, r.Env.NumCPU, r.Env.CPU)
	}
	if r.Interrupted {
		title += "; INTERRUPTED: partial results"
	}
	return title
}

// cutShort says which bursts of an interrupted round were left out.
func cutShort(r *results.Run) string {
	return fmt.Sprintf("left out, measured in a round the interruption cut short (a round counts only when every arm measured it): %s",
		strings.Join(r.CutShort, ", "))
}

// benchArmRows are the main table's rows, an arm each, in the run's order.
func benchArmRows(r *results.Run) []row {
	var rows []row
	for _, a := range r.Arms {
		speed, eff := speedupCells(a)
		rows = append(rows, row{
			a.Name, strconv.Itoa(a.Workers),
			Duration(a.FirstMs), Duration(a.LastMs), Duration(a.LatencyMs.P50), Duration(a.LatencyMs.P99),
			fmt.Sprintf("%.2f req/s", a.ThroughputRPS), strconv.Itoa(a.Errors),
			speed, eff, perWorker(a.Workers, a.RequestsPerWorker),
		})
	}
	return rows
}

// speedupCells are an arm's speedup and efficiency cells. The standard
// arm is the baseline the others are divided by; a scaled arm with no
// paired round has no speedup to show.
func speedupCells(a results.Arm) (speed, eff string) {
	speed, eff = "1.00x (baseline)", "-"
	if !results.Scaled(a.Mode) {
		return speed, eff
	}
	speed = "-"
	if a.Speedup.Rounds > 0 {
		speed = fmt.Sprintf("%.2fx (%.2f-%.2f)", a.Speedup.Median, a.Speedup.Min, a.Speedup.Max)
		eff = fmt.Sprintf("%.2f", a.Speedup.Efficiency)
		if a.Speedup.Efficiency > 1 {
			eff += " (!)"
		}
	}
	return speed, eff
}

// benchNotes are the paragraphs under the main table: what its columns
// mean, with every round's speedup, and the warnings a reader needs to
// trust them (an efficiency above 1, rounds other processes disturbed).
func benchNotes(r *results.Run) []string {
	var speedups []string
	for _, a := range r.Scaled() {
		speedups = append(speedups, fmt.Sprintf("%s: %s", a.Name, joinFloats(r.Speedups(a.Name))))
	}
	rounds := 0
	if c := r.Primary(); c != nil {
		rounds = c.Speedup.Rounds
	}
	of := "the cluster's"
	if slices.ContainsFunc(r.Arms, func(a results.Arm) bool { return a.Mode == results.Queue }) {
		of = "the cluster's or the queue's"
	}
	notes := []string{fmt.Sprintf("first, last: medians over the rounds; p50, p99: over every request; speedup: standard's last response / %s, paired by round (median, min-max over %d rounds; %s); efficiency: speedup per worker; per worker: fewest-most requests a worker answered",
		of, rounds, strings.Join(speedups, "; "))}
	if slices.ContainsFunc(r.Arms, func(a results.Arm) bool { return results.Scaled(a.Mode) && a.Speedup.Efficiency > 1 }) {
		notes = append(notes, "(!) efficiency above 1: a CPU-bound cluster cannot go faster than its workers; the standard rounds ran slow, from other processes (see the disturbed rounds) or the rounds' own noise (see the min-max)")
	}
	if slices.ContainsFunc(r.Arms, func(a results.Arm) bool { return a.Errors > 0 }) {
		notes = append(notes, "(!) failed requests: first, last, p50 and p99 count every answer, failed ones included; throughput counts the successes; a round's speedup needs successes at both arms (- where none had)")
	}
	if d := r.DisturbedRounds(); len(d) > 0 {
		notes = append(notes, fmt.Sprintf("disturbed rounds %v: other processes took more than %.2f of a core during a burst (see each burst's cpu in the run file; compare --drop-disturbed leaves them out)", d, results.DisturbedCores))
	} else if len(r.Rounds) > 0 && r.Rounds[0].Arms[0].CPU != nil {
		notes = append(notes, fmt.Sprintf("no disturbed round: other processes took at most %.2f of a core during every burst", results.DisturbedCores))
	}
	return notes
}

// writeDispatchTable shows how each arm's dispatch shared the work out:
// Jain's index, the last response against the ideal, and where the
// server reported it, the wait for a worker against the job.
func writeDispatchTable(w io.Writer, r *results.Run, markdown bool, para func(string)) error {
	if markdown {
		fmt.Fprintln(w)
	}
	header := row{"dispatch", "policy", "Jain", "last", "ideal", "last/ideal", "wait p50", "wait p99", "service p50", "service p99"}
	accepts := slices.ContainsFunc(r.Arms, func(a results.Arm) bool { return a.AcceptMs != nil })
	if accepts {
		header = append(header, "accept p50", "accept p99")
	}
	var rows []row
	for _, a := range r.Arms {
		ideal, ratio := "-", "-"
		if a.IdealLastMs > 0 {
			ideal = Duration(a.IdealLastMs)
			ratio = fmt.Sprintf("%.2f", a.LastMs/a.IdealLastMs)
		}
		waits := []string{"-", "-", "-", "-"}
		if a.WaitMs != nil {
			waits = []string{Duration(a.WaitMs.P50), Duration(a.WaitMs.P99), Duration(a.ServiceMs.P50), Duration(a.ServiceMs.P99)}
		}
		policy := cmp.Or(a.Sched, "-")
		if a.Mode == results.Queue {
			policy = "stream" // the first free worker pulls the next job
		}
		jain := "-" // no worker PIDs known: 0 is no index's value
		if a.Jain > 0 {
			jain = fmt.Sprintf("%.3f", a.Jain)
		}
		rw := append(row{a.Name, policy, jain, Duration(a.LastMs), ideal, ratio}, waits...)
		if accepts {
			acc := []string{"-", "-"}
			if a.AcceptMs != nil {
				acc = []string{Duration(a.AcceptMs.P50), Duration(a.AcceptMs.P99)}
			}
			rw = append(rw, acc...)
		}
		rows = append(rows, rw)
	}
	if err := render(w, markdown, header, rows); err != nil {
		return err
	}
	note := "Jain: fairness of the requests per worker in a round, median over the rounds (1: even, 1/workers: one took all); ideal: ceil(n/workers) x the median job time the server reported (X-Response-Time); wait: time queued for a worker (X-Queue-Time, where the supervisor accepts: rr and free), service: the rest of the latency"
	if slices.ContainsFunc(r.Arms, func(a results.Arm) bool { return a.Mode == results.Queue }) {
		note += "; queue: wait is from the front accepting the job to a worker starting it (upload and time in the stream)"
	}
	if accepts {
		note += "; accept: how long the 202 Accepted took (async replies; last: when each job's event stream told of its end)"
	}
	para(note)
	for _, n := range unknownFigures(r) {
		para(n)
	}
	return nil
}

// unknownFigures says why figures of the dispatch table are "-".
func unknownFigures(r *results.Run) []string {
	var notes, noPIDs []string
	for _, a := range r.Arms {
		if a.Jain == 0 {
			noPIDs = append(noPIDs, a.Name)
		}
		if a.JobMsRefused {
			notes = append(notes, fmt.Sprintf("%s: ideal left out: the X-Response-Time it reported adds up, in a round, to more than its workers could serve in the round's time, so it counts waiting (as Koa's does), not only the job", a.Name))
		}
	}
	if len(noPIDs) > 0 {
		notes = append([]string{fmt.Sprintf("Jain -: no worker PID known (no X-Worker-Pid header) for %s", strings.Join(noPIDs, ", "))}, notes...)
	}
	return notes
}

// dispatchKnown reports whether the run has more to say about dispatch
// than the per-worker counts: several clusters, job times or waits.
func dispatchKnown(r *results.Run) bool {
	if len(r.Scaled()) > 1 {
		return true
	}
	for _, a := range r.Arms {
		if a.IdealLastMs > 0 || a.WaitMs != nil || a.JobMsRefused {
			return true
		}
	}
	return false
}

// scalingLine describes one scaling curve and its fit.
func scalingLine(c results.Curve) string {
	var pts []string
	for _, p := range c.Points {
		pts = append(pts, fmt.Sprintf("%dw %.2fx", p.Workers, p.Speedup))
	}
	name := "scaling"
	if n := c.Name(); n != "" {
		name += " (" + n + ")"
	}
	if c.Fit == nil {
		return fmt.Sprintf("%s: %s; no fit: it needs speedups at two sizes above 1", name, strings.Join(pts, ", "))
	}
	peak := "no peak (kappa 0: the curve does not turn down)"
	if c.Fit.Peak > 0 {
		peak = fmt.Sprintf("peak at %.1f workers (%.2fx)", c.Fit.Peak, c.Fit.Speedup(c.Fit.Peak))
	}
	return fmt.Sprintf("%s: %s; Universal Scalability Law fit: sigma %.4f (contention), kappa %.4f (crosstalk), %s, RMS error %.3fx",
		name, strings.Join(pts, ", "), c.Fit.Sigma, c.Fit.Kappa, peak, c.Fit.RMSE)
}

// perWorker shows how evenly a mode's workers shared the requests: the
// fewest and the most any worker answered. A worker that answered none
// counts as zero.
func perWorker(workers int, counts map[string]int) string {
	if len(counts) == 0 {
		return "-"
	}
	var v []int
	for _, c := range counts {
		v = append(v, c)
	}
	slices.Sort(v)
	lo := v[0]
	if len(v) < workers {
		lo = 0
	}
	if len(v) > workers {
		return fmt.Sprintf("%d-%d (%d pids)", lo, v[len(v)-1], len(v))
	}
	return fmt.Sprintf("%d-%d", lo, v[len(v)-1])
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = fmt.Sprintf("%.2f", f)
	}
	return strings.Join(s, " ")
}

func imageBase(name string) string {
	if i := strings.LastIndexAny(name, "/:"); i >= 0 {
		return name[i+1:]
	}
	return name
}

// Bytes formats a size for people: "6.6 MB".
func Bytes(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
