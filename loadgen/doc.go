// Package loadgen fires HTTP load at a server and records every request:
// the measuring half of the article's experiment, whose script fires N
// concurrent POSTs and notes when each response arrives.
//
// It is the only package that imports vegeta. [Run] takes a [Config] and
// returns a results.Summary, which flipbench owns; vegeta's types stay
// inside. Three modes ([Config.Mode]):
//
//   - Burst (the default, [ModeBurst]): N requests released together, as N
//     independent clients, each on a connection of its own. Every request
//     is built, its connection opened and its goroutine waiting before one
//     channel's close releases them all; each is timed from just before it
//     is sent, so its latency does not include the TCP connect.
//   - Rate ([ModeRate]): an open-loop constant rate for a duration.
//     Arrivals follow the clock whatever the server does, so a slow server
//     cannot slow the load down and hide its own queueing (no coordinated
//     omission).
//   - Closed ([ModeClosed]): a fixed number of clients for a duration, each
//     sending its next request as soon as its last is answered (hey's -c
//     with -z). The server sets the pace: this measures the throughput of
//     that many users, and a slow server gets fewer requests.
//
// By default every request opens a connection of its own and closes it
// ([Config.KeepAlive] reuses them). Extra headers, a Host among them, go
// in [Config.Header]; https targets are verified against the system's
// roots, or [Config.CACert], or not at all ([Config.Insecure]).
//
// It knows nothing of servers: starting them is package bench's work.
package loadgen
