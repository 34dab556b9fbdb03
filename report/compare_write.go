package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/flipbench/flipbench/verdict"
)

// CompareFormats lists the output formats of a comparison.
var CompareFormats = []string{FormatTable, FormatMarkdown, FormatJSON, FormatJUnit}

// FormatJUnit is a JUnit XML report, for CI systems that show test results.
const FormatJUnit = "junit"

// WriteCompare writes a comparison as a text table, Markdown (for a PR
// comment or a job summary), JSON, or JUnit XML (for CI test reports).
func WriteCompare(w io.Writer, c *verdict.Comparison, format string) error {
	switch format {
	case FormatTable, "text": // "text" was its name before it was "table"
		return writeCompareTable(w, c, false)
	case FormatMarkdown:
		return writeCompareTable(w, c, true)
	case FormatJSON:
		return WriteJSON(w, c)
	case FormatJUnit:
		return writeJUnit(w, c)
	}
	return fmt.Errorf("unknown format %q (want one of %v)", format, CompareFormats)
}

func writeCompareTable(w io.Writer, c *verdict.Comparison, markdown bool) error {
	outcome := "PASS"
	if !c.Passed() {
		outcome = "FAIL"
	}
	lines := []string{
		"base: " + describeRun(c.Base),
		"head: " + describeRun(c.Head),
	}
	if markdown {
		fmt.Fprintf(w, "### flipbench compare: %s\n\n", outcome)
		for _, l := range lines {
			fmt.Fprintf(w, "- %s\n", l)
		}
		fmt.Fprintln(w)
	} else {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
	}
	interval := fmt.Sprintf("head/base (%g%% CI)", 100*(1-2*c.Alpha))
	if c.Design == verdict.DesignCapacity {
		interval = "head/base (bracket)"
	}
	header := row{"metric", "base", "head", "change", interval, "p", "verdict"}
	var rows []row
	for _, d := range c.Deltas {
		// The estimate is shown whatever the verdict, as JUnit and JSON
		// give it: "~" is the verdict's, no significant change.
		change := verdict.FormatPct(d.ChangePct)
		v := d.Verdict
		switch {
		case d.Gated:
			v += " (gate)"
		case d.Verdict == verdict.VerdictRegression:
			v += " (advisory)"
		}
		rows = append(rows, row{
			metricLabel(d), formatSide(c, d.Base, d.Unit), formatSide(c, d.Head, d.Unit), change,
			fmt.Sprintf("%s-%s", formatRatio(d.RatioLo), formatRatio(d.RatioHi)), formatP(d.P), v,
		})
	}
	if err := render(w, markdown, header, rows); err != nil {
		return err
	}
	notes := compareNotes(c)
	fmt.Fprintln(w)
	for _, n := range notes {
		if markdown {
			fmt.Fprintf(w, "- %s\n", n)
		} else {
			fmt.Fprintln(w, n)
		}
	}
	fmt.Fprintln(w)
	writeVerdictLines(w, c, markdown)
	return nil
}

// compareNotes say how the table was reached, then the comparison's own
// notes and each metric's warnings.
func compareNotes(c *verdict.Comparison) []string {
	var notes []string
	test := "change: Hodges-Lehmann ratio of every head/base pair of rounds; p: one-sided Mann-Whitney U"
	if c.Design == verdict.DesignPaired {
		test = "paired by round: change: Hodges-Lehmann estimate of the rounds' head/base ratios; p: one-sided Wilcoxon signed-rank"
	}
	if c.Design == verdict.DesignCapacity {
		notes = append(notes, fmt.Sprintf("capacity runs: base and head: each arm's capacity and the bracket its search narrowed it to (the highest rate that passed, the lowest that failed above it); head/base: the brackets' ends divided; a capacity regresses when the whole bracket of head/base is below 1 by more than %.0f%%, no test (p -): the bracket is the search's resolution, not its noise, so gate on a paired capacity bench (--base-exe/--head-exe), whose arms take turns",
			100*c.MaxRegression))
	} else {
		notes = append(notes, fmt.Sprintf("base and head: median ± 95%% CI over the rounds; %s; a metric regresses when p <= %.2f and the whole CI of head/base is beyond %.0f%%; verdict ~: no significant change",
			test, c.Alpha, 100*c.MaxRegression))
	}
	if c.Design == verdict.DesignTwoRuns {
		notes = append(notes, "two runs: only the speedup and the error rates gate by default; times, throughput and costs are advisory, as the runner's own speed may differ between the runs, which no interval over their rounds sees (a paired bench, --base-exe/--head-exe, measures both builds in every round)")
	}
	notes = append(notes, c.Notes...)
	for _, d := range c.Deltas {
		if d.Verdict == verdict.VerdictSmall {
			notes = append(notes, fmt.Sprintf("%s changed %s: significant, but not surely beyond %.0f%%", d.Metric, verdict.FormatPct(d.ChangePct), 100*c.MaxRegression))
		}
		for _, warn := range d.Warnings {
			if w := "warning: " + warn; !slices.Contains(notes, w) {
				notes = append(notes, w)
			}
		}
	}
	return notes
}

// writeVerdictLines ends the table with what gated and what regressed
// without gating: a PASS above rows that say regression must not be
// read as "nothing changed".
func writeVerdictLines(w io.Writer, c *verdict.Comparison, markdown bool) {
	line := func(label, text string) {
		if markdown {
			fmt.Fprintf(w, "**%s**: %s  \n", label, text)
		} else {
			fmt.Fprintf(w, "%s: %s\n", label, text)
		}
	}
	if c.Passed() {
		fmt.Fprintln(w, "PASS: no gated regression")
	}
	for _, f := range c.Failed {
		line("FAIL", f)
	}
	if len(c.Advisory) > 0 {
		line("ADVISORY", fmt.Sprintf("%s (regressions of metrics that do not gate; --gate METRIC makes one gate)", strings.Join(c.Advisory, "; ")))
	}
}

func describeRun(r verdict.RunInfo) string {
	workers := plural(r.Workers, "worker")
	rounds := fmt.Sprintf("%d rounds", r.Rounds)
	if len(r.SLOs) > 0 {
		rounds = "capacity at " + strings.Join(r.SLOs, " and ")
	}
	if r.Build.Dir != "" {
		return fmt.Sprintf("%s (commands in %s, %d CPUs %s, %s, %s, %s)",
			r.Name, r.Build.Dir, r.NumCPU, r.CPU, workers, rounds, r.Started)
	}
	if r.Build.Exe != "" {
		return fmt.Sprintf("%s (%s, sha256 %s, %d CPUs %s, %s, %s, %s)",
			r.Name, r.Build.Exe, verdict.ShortSHA(r.Build.SHA256), r.NumCPU, r.CPU, workers, rounds, r.Started)
	}
	return fmt.Sprintf("%s (flipbench %s, commit %s, %d CPUs %s, %s, %s, %s)",
		r.Name, r.Version, r.Commit, r.NumCPU, r.CPU, workers, rounds, r.Started)
}

// plural is "1 worker", "2 workers".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// metricLabel names a metric with its unit where the values do not show
// it themselves.
func metricLabel(d verdict.Delta) string {
	if d.Unit == "req/s" {
		return d.Metric + " (req/s)"
	}
	return d.Metric
}

// formatP is a p-value to three places; "-" where no test was run.
func formatP(p float64) string {
	if math.IsNaN(p) {
		return "-"
	}
	return fmt.Sprintf("%.3f", p)
}

// formatSide is one side of a metric: its median and CI, or, for a
// capacity, its search's bracket: "7.25 (to 7.5)", "7.25 (to ∞)" when
// no rate above it failed.
func formatSide(c *verdict.Comparison, s verdict.Stat, unit string) string {
	if c.Design != verdict.DesignCapacity {
		return formatStat(s, unit)
	}
	hi := "∞"
	if !math.IsInf(s.Hi, 0) && !math.IsNaN(s.Hi) {
		hi = rate(s.Hi)
	}
	if unit == "x" {
		return fmt.Sprintf("%.2fx (%.2f to %s)", s.Median, s.Lo, hi)
	}
	return fmt.Sprintf("%s (to %s)", rate(s.Median), hi)
}

// formatStat is "median ±x%", the half-width of the CI relative to the
// median, as benchstat prints it; ±∞ when there are too few rounds for a
// 95% interval.
func formatStat(s verdict.Stat, unit string) string {
	var v string
	switch unit {
	case "ms":
		v = Duration(s.Median)
	case "%":
		v = fmt.Sprintf("%.1f%%", s.Median)
	case "x":
		v = fmt.Sprintf("%.2fx", s.Median)
	case "MiB":
		v = fmt.Sprintf("%.1f MiB", s.Median)
	default:
		v = fmt.Sprintf("%.2f", s.Median)
	}
	switch {
	case math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0):
		return v + " ±∞"
	case s.Median == 0:
		return v
	}
	return fmt.Sprintf("%s ±%.0f%%", v, 100*math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median))
}

func formatRatio(r float64) string {
	switch {
	case math.IsNaN(r):
		return "-"
	case math.IsInf(r, 0):
		return "∞"
	}
	return fmt.Sprintf("%.2f", r)
}

// JUnit XML, as CI systems read it: one test case per metric; gated
// regressions and failed requests are failures.
type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// junitSkipped marks an advisory regression: shown by CI test reports,
// neither a pass nor a failure.
type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(w io.Writer, c *verdict.Comparison) error {
	s := junitSuite{Name: "flipbench compare " + c.Base.Name + " " + c.Head.Name}
	for _, d := range c.Deltas {
		tc := junitCase{
			Name:      d.Metric,
			Classname: "flipbench.compare",
			SystemOut: fmt.Sprintf("base %s, head %s, change %s, head/base %s-%s, p=%s, %s",
				formatStat(d.Base, d.Unit), formatStat(d.Head, d.Unit), verdict.FormatPct(d.ChangePct),
				formatRatio(d.RatioLo), formatRatio(d.RatioHi), formatP(d.P), d.Verdict),
		}
		switch {
		case d.Regressed():
			tc.Failure = &junitFailure{Message: d.Regression(), Text: tc.SystemOut}
		case d.Verdict == verdict.VerdictRegression:
			tc.Skipped = &junitSkipped{Message: "advisory (not gated): " + d.Regression()}
		}
		s.Cases = append(s.Cases, tc)
	}
	req := junitCase{Name: "failed requests", Classname: "flipbench.compare"}
	if c.Head.Errors > 0 {
		req.Failure = &junitFailure{Message: fmt.Sprintf("head had %d failed requests", c.Head.Errors)}
	}
	s.Cases = append(s.Cases, req)
	s.Tests = len(s.Cases)
	for _, tc := range s.Cases {
		if tc.Failure != nil {
			s.Failures++
		}
		if tc.Skipped != nil {
			s.Skipped++
		}
	}
	return encodeJUnit(w, s)
}

// encodeJUnit writes a JUnit suite, with its XML header.
func encodeJUnit(w io.Writer, s junitSuite) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
