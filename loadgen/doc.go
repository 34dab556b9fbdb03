// Package loadgen fires HTTP load at a server and records every request:
// the measuring half of the article's experiment, whose script fires N
// concurrent POSTs and notes when each response arrives.
//
// It is the only package that imports vegeta. [Run] takes a [Config] and
// returns a results.Summary, which flipbench owns; vegeta's types stay
// inside. Two modes:
//
//   - Burst (the default): N requests released together, as N independent
//     clients, each on a connection of its own (no keep-alive).
//   - Rate: an open-loop constant rate for a duration. Arrivals follow the
//     clock whatever the server does, so a slow server cannot slow the load
//     down and hide its own queueing (no coordinated omission).
//
// It knows nothing of servers: starting them is package bench's work.
package loadgen
