package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/flipbench/flipbench/results"
)

// Formats that WriteLoad understands.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatCSV      = "csv"
	FormatMarkdown = "markdown"
)

// LoadFormats lists the output formats of a load summary.
var LoadFormats = []string{FormatTable, FormatJSON, FormatCSV, FormatMarkdown}

// WriteLoad writes a load summary in format: table and markdown show the
// summary and the requests per worker, json is the whole Summary, csv one
// line per request.
func WriteLoad(w io.Writer, s *results.Summary, format string) error {
	switch format {
	case FormatTable:
		return writeLoadTables(w, s, false)
	case FormatMarkdown:
		return writeLoadTables(w, s, true)
	case FormatJSON:
		return WriteJSON(w, s)
	case FormatCSV:
		return WriteLoadCSV(w, s)
	}
	return fmt.Errorf("unknown format %q (want one of %v)", format, LoadFormats)
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeLoadTables writes the summary's metrics under a title that says
// what load was sent, then the requests per worker and the errors by
// kind when there are any. Markdown writes the title in bold.
func writeLoadTables(w io.Writer, s *results.Summary, markdown bool) error {
	if markdown {
		fmt.Fprintf(w, "**%s**\n\n", loadTitle(s))
	} else {
		fmt.Fprintln(w, loadTitle(s))
	}
	if err := render(w, markdown, row{"metric", "value"}, loadMetricRows(s)); err != nil {
		return err
	}
	if len(s.RequestsPerWorker) > 0 {
		fmt.Fprintln(w)
		if err := render(w, markdown, row{"worker pid", "requests", "share"}, workerRows(s.RequestsPerWorker)); err != nil {
			return err
		}
	}
	if len(s.ErrorsByKind) > 0 {
		fmt.Fprintln(w)
		if err := render(w, markdown, row{"error", "count"}, errorRows(s.ErrorsByKind)); err != nil {
			return err
		}
	}
	if err := writeAgentTables(w, s, markdown); err != nil {
		return err
	}
	for _, note := range loadNotes(s) {
		fmt.Fprintln(w)
		fmt.Fprintln(w, note)
	}
	return nil
}

// loadNotes say what the figures cover where it is not what it seems:
// times over failed answers too, and 202s whose jobs were not awaited.
func loadNotes(s *results.Summary) []string {
	var notes []string
	if n := responded(s.StatusCodes); n > s.OK && s.OK > 0 {
		notes = append(notes, fmt.Sprintf("first and last response and the latencies are over every answer (%d: %d ok, %d failed); throughput counts the %d ok",
			n, s.OK, n-s.OK, s.OK))
	}
	if s.Accepted > 0 && s.Await == "" {
		notes = append(notes, fmt.Sprintf("%d of %d answers were 202 Accepted: the server queued the jobs, and these times are its accepts, not the jobs; --await events (or poll) measures each job to its end",
			s.Accepted, s.Requests))
	}
	return notes
}

// loadMetricRows are the main table's rows: the counts, the times and
// the throughput, then the split of the latency when it is known.
func loadMetricRows(s *results.Summary) []row {
	l := s.LatencyMs
	// With no response at all, times are unknown, not zero.
	dur := Duration
	if responded(s.StatusCodes) == 0 {
		dur = func(float64) string { return "-" }
	}
	rows := []row{
		{"requests", strconv.Itoa(s.Requests)},
		{"ok", strconv.Itoa(s.OK)},
		{"errors", strconv.Itoa(s.Errors)},
	}
	if s.Canceled > 0 {
		rows = append(rows, row{"canceled (interrupted)", strconv.Itoa(s.Canceled)})
	}
	rows = append(rows,
		row{"first response", dur(s.FirstMs)},
		row{"last response", dur(s.LastMs)},
		row{"send spread", Duration(s.SendSpreadMs)},
		row{"latency min", dur(l.Min)},
		row{"latency mean", dur(l.Mean)})
	ps := s.Percentiles
	if ps == nil {
		ps = []results.Quantile{{P: 50, Ms: l.P50}, {P: 90, Ms: l.P90}, {P: 95, Ms: l.P95}, {P: 99, Ms: l.P99}}
	}
	for _, q := range ps {
		rows = append(rows, row{"latency p" + strconv.FormatFloat(q.P, 'f', -1, 64), dur(q.Ms)})
	}
	rows = append(rows,
		row{"latency max", dur(l.Max)},
		row{"throughput", fmt.Sprintf("%.2f req/s", s.ThroughputRPS)})
	if s.AcceptMs != nil { // awaited jobs: the 202s apart
		rows = append(rows, row{"accept p50 / p99", Duration(s.AcceptMs.P50) + " / " + Duration(s.AcceptMs.P99)})
	}
	if s.WaitMs != nil { // the server said how long each request waited
		rows = append(rows,
			row{"wait p50 / p99", Duration(s.WaitMs.P50) + " / " + Duration(s.WaitMs.P99)},
			row{"service p50 / p99", Duration(s.ServiceMs.P50) + " / " + Duration(s.ServiceMs.P99)})
	}
	return rows
}

// loadTitle says what load was sent, in the mode's own terms, and what
// qualifies the figures under it: awaited jobs, medians of rounds, an
// interrupted run.
func loadTitle(s *results.Summary) string {
	title := fmt.Sprintf("%s %s, %s of %d", s.Method, s.URL, s.Mode, s.N)
	switch s.Mode {
	case "rate":
		title = fmt.Sprintf("%s %s, %s for %s", s.Method, s.URL, s.Rate, s.Duration)
	case "closed":
		title = fmt.Sprintf("%s %s, %d clients for %s (closed loop): %d sent", s.Method, s.URL, s.Concurrency, s.Duration, s.N)
	}
	if s.Await != "" {
		title += fmt.Sprintf(", jobs awaited (%s; latency: until each job was seen to end)", s.Await)
	}
	if len(s.RoundStats) > 1 {
		title += fmt.Sprintf(", %d rounds (first and last response: median of the rounds)", len(s.RoundStats))
	}
	if n := agentCount(s.Agents); n > 0 {
		title += fmt.Sprintf(", from %d agents", n)
	}
	if s.Interrupted {
		title += ", INTERRUPTED: partial results"
	}
	if len(s.Incomplete) > 0 {
		title += ", INCOMPLETE"
	}
	return title
}

// errorRows lists the errors by kind, sorted so that the table is stable.
func errorRows(byKind map[string]int) []row {
	var rows []row
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		rows = append(rows, row{k, strconv.Itoa(byKind[k])})
	}
	return rows
}

func responded(codes map[string]int) int {
	n := 0
	for _, c := range codes {
		n += c
	}
	return n
}

// workerRows lists workers by PID with their share of the responses.
func workerRows(workers map[string]int) []row {
	total := 0
	for _, n := range workers {
		total += n
	}
	pids := slices.SortedFunc(maps.Keys(workers), func(a, b string) int {
		ai, _ := strconv.Atoi(a)
		bi, _ := strconv.Atoi(b)
		return ai - bi
	})
	var rows []row
	for _, pid := range pids {
		rows = append(rows, row{pid, strconv.Itoa(workers[pid]), fmt.Sprintf("%.1f%%", 100*float64(workers[pid])/float64(total))})
	}
	return rows
}

// WriteLoadCSV writes one line per request, with a header line.
func WriteLoadCSV(w io.Writer, s *results.Summary) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"round", "seq", "sent_ms", "latency_ms", "end_ms", "status", "pid", "bytes", "kind", "error", "source"})
	for _, r := range s.Results {
		cw.Write([]string{
			strconv.Itoa(r.Round), strconv.FormatUint(r.Seq, 10),
			ff(r.SentMs), ff(r.LatencyMs), ff(r.EndMs),
			strconv.Itoa(r.Status), strconv.Itoa(r.PID), strconv.FormatInt(r.Bytes, 10),
			r.Kind, r.Error, r.Source,
		})
	}
	cw.Flush()
	return cw.Error()
}

// Duration formats milliseconds for people: "850.2 ms" under a second,
// "9.41 s" above.
func Duration(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
