package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/flipbench/flipbench/history"
)

// HistoryFormats are the formats of `flipbench history list` and `show`.
var HistoryFormats = []string{FormatTable, FormatMarkdown, FormatJSON, FormatCSV}

// historyEntry is an entry as list prints it in JSON.
type historyEntry struct {
	ID     string            `json:"id"`
	Commit string            `json:"commit"`
	Branch string            `json:"branch"`
	Time   string            `json:"time"`
	Tags   map[string]string `json:"tags,omitempty"`
	Setup  string            `json:"setup"`
	Arms   []string          `json:"arms"`
	// Speedup is the run's, its capacity speedup for a capacity run.
	Speedup *float64 `json:"speedup,omitempty"`
}

func entryOf(e history.Entry) historyEntry {
	h := historyEntry{ID: e.ID, Commit: e.Commit, Branch: e.Branch, Time: e.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), Tags: e.Tags, Setup: history.Setup(e.Run)}
	for _, a := range e.Run.Arms {
		h.Arms = append(h.Arms, a.Name)
	}
	speedup := "speedup"
	if e.Run.Capacity() {
		speedup = "capacity_speedup"
	}
	if f, ok := history.FigureOf(e.Run, speedup); ok {
		h.Speedup = &f.Value
	}
	return h
}

// WriteHistory writes the entries of a history, a line each.
func WriteHistory(w io.Writer, entries []history.Entry, format string) error {
	hs := []historyEntry{}
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
		if len(series) > 1 {
			return fmt.Errorf("%w: the runs form %d series (setups or branches), and Otava reads a CSV as one: give --branch, or --setup with one of: %s", ErrManySeries, len(series), setups(series))
		}
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

// CheckFormats are the formats of `flipbench history check`, compare's.
var CheckFormats = []string{FormatTable, FormatMarkdown, FormatJSON, FormatJUnit}

// WriteCheck writes what history check found: a row a series, then the
// verdict, as compare's.
func WriteCheck(w io.Writer, c *history.CheckResult, format string) error {
	switch format {
	case FormatJSON:
		return WriteJSON(w, c)
	case FormatJUnit:
		return writeCheckJUnit(w, c)
	}
	md := format == FormatMarkdown
	if md {
		fmt.Fprintf(w, "### flipbench history check: %s\n\n", checkVerdict(c))
	}
	var rows []row
	for _, s := range c.Series {
		verdict := "ok"
		switch {
		case s.Regressed && s.Gated:
			verdict = "REGRESSION"
		case s.Regressed:
			verdict = "regression (advisory)" // not the newest run's setup or branch
		}
		last := "-"
		if len(s.Points) > 0 {
			last = formatValue(s.Points[len(s.Points)-1].Value, s.Unit)
		}
		rows = append(rows, row{s.Metric, s.Branch, s.Setup, strconv.Itoa(len(s.Points)), last, changeList(s), verdict})
	}
	if err := render(w, md, row{"metric", "branch", "setup", "runs", "newest", "change points (first run after, change, p)", "verdict"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d runs; E-divisive means on each series, a permutation test for each change point; a series fails when its newest level is %.0f%% or more worse than the level before a change point in its bad direction (named by it); only the series of the newest run's setup and branch gate, the others advise\n",
		c.Runs, 100*c.MinChange)
	if !md {
		fmt.Fprintf(w, "\n%s\n", checkVerdict(c))
	}
	return nil
}

func changeList(s history.SeriesCheck) string {
	if len(s.ChangePoints) == 0 {
		return "-"
	}
	var parts []string
	for _, cp := range s.ChangePoints {
		change := fmt.Sprintf("%+.1f%%", cp.ChangePct)
		if cp.Before == 0 {
			change = fmt.Sprintf("0 to %.3g", cp.After)
		}
		parts = append(parts, fmt.Sprintf("%s %s p=%.3f", short(cp.Commit), change, cp.P))
	}
	return strings.Join(parts, "; ")
}

func checkVerdict(c *history.CheckResult) string {
	if failed := c.Failed(); len(failed) > 0 {
		return "FAIL: " + strings.Join(failed, "; ")
	}
	return "PASS: no gated series regressed"
}

func writeCheckJUnit(w io.Writer, c *history.CheckResult) error {
	s := junitSuite{Name: "flipbench history check"}
	for _, sc := range c.Series {
		if !sc.Gated {
			continue
		}
		tc := junitCase{
			Name:      sc.Metric + " (" + sc.Branch + ", " + sc.Setup + ")",
			Classname: "flipbench.history",
			SystemOut: fmt.Sprintf("%d runs; change points: %s", len(sc.Points), changeList(sc)),
		}
		if sc.Regressed {
			one := history.CheckResult{Series: []history.SeriesCheck{sc}}
			tc.Failure = &junitFailure{Message: one.Failed()[0], Text: tc.SystemOut}
			s.Failures++
		}
		s.Cases = append(s.Cases, tc)
	}
	s.Tests = len(s.Cases)
	return encodeJUnit(w, s)
}

// ErrManySeries is a CSV asked of runs that form several series.
var ErrManySeries = errors.New("several series")

func setups(series []history.Series) string {
	var out []string
	for _, s := range series {
		out = append(out, fmt.Sprintf("%q (%s)", s.Setup, s.Branch))
	}
	return strings.Join(out, ", ")
}
