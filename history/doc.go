// Package history keeps the runs of a series of benches, one [Entry] a
// run with its commit, branch, time and tags, behind one [Store]
// interface, so that what reads a series (listing it, plotting it,
// finding its change points) does not care where it is kept: [Memory]
// here, and the SQLite and PostgreSQL stores of `flipbench history`,
// which will be the only importers of database drivers.
//
// It imports nothing of flipbench's but results.
package history
