package report

import (
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
// as the run file's JSON.
func WriteBench(w io.Writer, r *results.Run, format string) error {
	switch format {
	case FormatTable:
		return writeBenchTable(w, r, false)
	case FormatMarkdown:
		return writeBenchTable(w, r, true)
	case FormatJSON:
		return WriteJSON(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %v)", format, BenchFormats)
}

func writeBenchTable(w io.Writer, r *results.Run, markdown bool) error {
	img := r.Config.Image
	threads := fmt.Sprintf("%d thread(s) a worker", r.Config.Threads)
	if r.Config.Threads == 0 {
		threads = "all CPUs a worker"
	}
	if r.Config.Sched != "" {
		threads += ", dispatch " + r.Config.Sched
	}
	title := fmt.Sprintf("%d concurrent POST /flip, %d rounds; %s %dx%d (%s); %d CPUs (%s), %s",
		r.Config.N, len(r.Rounds), imageBase(img.Name), img.Width, img.Height, Bytes(img.Bytes),
		r.Env.NumCPU, r.Env.CPU, threads)
	if r.Config.StandardCmd != "" {
		title = fmt.Sprintf("%d concurrent POST %s, %d rounds; standard: %s; cluster: %s; %d CPUs (%s)",
			r.Config.N, r.Config.URL, len(r.Rounds), r.Config.StandardCmd, r.Config.ClusterCmd, r.Env.NumCPU, r.Env.CPU)
	}
	if r.Interrupted {
		title += "; INTERRUPTED: partial results"
	}
	if markdown {
		fmt.Fprintf(w, "**flipbench bench**: %s\n\n", title)
	} else {
		fmt.Fprintln(w, title)
	}
	header := row{"mode", "workers", "first", "last", "p50", "p99", "throughput", "errors", "speedup", "efficiency", "per worker"}
	var rows []row
	for _, side := range results.Sides {
		m := r.Side(side)
		if len(r.Rounds) == 0 {
			// Interrupted before a round finished: nothing was measured.
			rows = append(rows, row{side, strconv.Itoa(m.Workers), "-", "-", "-", "-", "-", "-", "-", "-", "-"})
			continue
		}
		speed, eff := "1.00x (baseline)", "-"
		if side == results.Cluster {
			speed, eff = "-", "-"
			if r.Speedup.Rounds > 0 {
				speed = fmt.Sprintf("%.2fx (%.2f-%.2f)", r.Speedup.Median, r.Speedup.Min, r.Speedup.Max)
				eff = fmt.Sprintf("%.2f", r.Speedup.Efficiency)
			}
		}
		rows = append(rows, row{
			side, strconv.Itoa(m.Workers),
			Duration(m.FirstMs), Duration(m.LastMs), Duration(m.LatencyMs.P50), Duration(m.LatencyMs.P99),
			fmt.Sprintf("%.2f req/s", m.ThroughputRPS), strconv.Itoa(m.Errors),
			speed, eff, perWorker(m.Workers, m.RequestsPerWorker),
		})
	}
	if err := render(w, markdown, header, rows); err != nil {
		return err
	}
	note := fmt.Sprintf("first, last: medians over the rounds; p50, p99: over every request; speedup: standard's last response / cluster's, paired by round (median, min-max over %d rounds: %s); efficiency: speedup per worker; per worker: fewest-most requests a worker answered",
		r.Speedup.Rounds, joinFloats(r.Speedups()))
	if markdown {
		fmt.Fprintf(w, "\n_%s_\n", note)
	} else {
		fmt.Fprintln(w, note)
	}
	return nil
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
