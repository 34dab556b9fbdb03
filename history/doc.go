// Package history keeps the runs of a series of benches, one [Entry] a
// run with its commit, branch, time and tags, behind one [Store]
// interface, so that what reads a series (listing it, plotting it,
// finding its change points) does not care where it is kept: [Memory]
// here, and the SQLite and PostgreSQL stores of package sqlstore, the
// only importer of database drivers. A run's figures ([Figures]) and its
// setup ([Setup]) say which series it belongs to ([SeriesOf]).
//
// It imports nothing of flipbench's but results.
package history
