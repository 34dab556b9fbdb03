// Package report turns flipbench results into things people read: tables
// (tablewriter), JSON, and the statistics behind them. Its functions are
// pure: they take values and a writer, and touch no network and no process.
package report
