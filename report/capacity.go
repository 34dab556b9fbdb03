package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flipbench/flipbench/capacity"
	"github.com/flipbench/flipbench/results"
)

// CapacityFormats are the formats of `flipbench capacity`.
var CapacityFormats = []string{FormatTable, FormatMarkdown, FormatJSON}

// WriteCapacity writes a capacity search: its steps in the order they
// ran, then the capacity.
func WriteCapacity(w io.Writer, url string, slos []results.SLO, res *capacity.Result, format string) error {
	if format == FormatJSON {
		return WriteJSON(w, struct {
			URL    string           `json:"url"`
			SLOs   []string         `json:"slos"`
			Search *capacity.Result `json:"search"`
		}{url, results.SLONames(slos), res})
	}
	header := row{"step", "rate"}
	for _, s := range slos {
		if s.P > 0 {
			header = append(header, fmt.Sprintf("p%g", s.P))
		}
	}
	header = append(header, "errors", "requests", "verdict")
	var rows []row
	for i, st := range res.Steps {
		r := row{fmt.Sprint(i + 1), rate(st.Rate) + "/s"}
		for _, ms := range st.Ms {
			r = append(r, Duration(ms))
		}
		verdict := stepWord(st)
		rows = append(rows, append(r, fmt.Sprintf("%.1f%%", 100*st.ErrorRate), fmt.Sprint(st.Requests), verdict))
	}
	md := format == FormatMarkdown
	fmt.Fprintf(w, "capacity of %s at %s\n", url, strings.Join(results.SLONames(slos), " and "))
	if err := render(w, md, header, rows); err != nil {
		return err
	}
	line := fmt.Sprintf("capacity: %s requests/s (the highest rate that met every SLO and was answered at %g%% of it or more, held twice), %d steps in %s", rate(res.Capacity), 100*res.MinKeptUp, len(res.Steps), res.Took.Round(time.Second))
	switch {
	case res.Capacity == 0 && len(res.Steps) == 0:
		line = "capacity: none found: the budget is shorter than the first step (--hold, or --min-requests at --start)"
	case res.Capacity == 0:
		line = fmt.Sprintf("capacity: none found: every rate tried failed (%d steps in %s)", len(res.Steps), res.Took.Round(time.Second))
	}
	if res.OutOfBudget && len(res.Steps) > 0 {
		line += "; the budget ran out before the resolution was reached"
	}
	_, err := fmt.Fprintf(w, "\n%s\n", line)
	return err
}
