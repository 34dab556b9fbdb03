// Package report turns flipbench results into things people read: tables
// (tablewriter), Markdown, CSV, JSON, JUnit and plots, of load files, run
// files and the compare verdict (whose inference is package verdict's).
// Its functions are pure: they take values and a writer, and touch no
// network and no process.
package report
