package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/flipbench/flipbench/history"
)

// HistoryFormats are the formats of `flipbench history list` and `show`.
var HistoryFormats = []string{FormatTable, FormatMarkdown, FormatJSON, FormatCSV}

// historyEntry is an entry as list prints it in JSON.
type historyEntry struct {
	ID      string            `json:"id"`
	Commit  string            `json:"commit"`
	Branch  string            `json:"branch"`
	Time    string            `json:"time"`
	Tags    map[string]string `json:"tags,omitempty"`
	Setup   string            `json:"setup"`
	Arms    []string          `json:"arms"`
	Speedup *float64          `json:"speedup,omitempty"`
}

func entryOf(e history.Entry) historyEntry {
	h := historyEntry{ID: e.ID, Commit: e.Commit, Branch: e.Branch, Time: e.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), Tags: e.Tags, Setup: history.Setup(e.Run)}
	for _, a := range e.Run.Arms {
		h.Arms = append(h.Arms, a.Name)
	}
	for _, f := range history.Figures(e.Run) {
		if f.Metric == "speedup" {
			h.Speedup = &f.Value
		}
	}
	return h
}

// WriteHistory writes the entries of a history, a line each.
func WriteHistory(w io.Writer, entries []history.Entry, format string) error {
	var hs []historyEntry
	for _, e := range entries {
		hs = append(hs, entryOf(e))
	}
	if format == FormatJSON {
		return WriteJSON(w, hs)
	}
	header := row{"time", "commit", "branch", "setup", "arms", "speedup", "id"}
	var rows []row
	for _, h := range hs {
		speedup := "-"
		if h.Speedup != nil {
			speedup = fmt.Sprintf("%.2fx", *h.Speedup)
		}
		rows = append(rows, row{h.Time, short(h.Commit), h.Branch, h.Setup, strconv.Itoa(len(h.Arms)), speedup, short(h.ID)})
	}
	if format == FormatCSV {
		return writeCSV(w, header, rows)
	}
	return render(w, format == FormatMarkdown, header, rows)
}

// WriteSeries writes series of one metric. CSV is the shape Apache
// Otava reads: a time column, the commit and the branch as attributes,
// the metric as a column named after it.
func WriteSeries(w io.Writer, series []history.Series, format string) error {
	if format == FormatJSON {
		return WriteJSON(w, series)
	}
	var rows []row
	metric := ""
	for _, s := range series {
		metric = s.Metric
		for _, p := range s.Points {
			rows = append(rows, row{p.Time, short(p.Commit), s.Branch, s.Setup, formatValue(p.Value, s.Unit)})
		}
	}
	if format == FormatCSV {
		var plain []row
		for _, s := range series {
			for _, p := range s.Points {
				plain = append(plain, row{p.Time, p.Commit, s.Branch, s.Setup, strconv.FormatFloat(p.Value, 'g', -1, 64)})
			}
		}
		return writeCSV(w, row{"time", "commit", "branch", "setup", metric}, plain)
	}
	return render(w, format == FormatMarkdown, row{"time", "commit", "branch", "setup", metric}, rows)
}

// formatValue prints a figure in its unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return Duration(v)
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "":
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

func writeCSV(w io.Writer, header row, rows []row) error {
	cw := csv.NewWriter(w)
	cw.Write(header)
	for _, r := range rows {
		cw.Write(r)
	}
	cw.Flush()
	return cw.Error()
}

// short is a commit or an ID as people read them: 12 hex digits.
func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
