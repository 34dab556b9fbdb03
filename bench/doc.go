// Package bench runs the article's experiment: the same bursts at a
// single worker and at a cluster, round by round, and assembles the run
// file (a results.Run).
//
// [Run] takes a [Config]: how to start the two sides' servers (a
// [Servers]: flipbench's own through [Own], or any server under test
// through [Commands]), the burst and the rounds. The order of work is a
// value, [Schedule]: start, warm up, measure each round, stop. Own
// servers run side by side and their rounds interleave in ABBA order
// (standard, cluster, cluster, standard...), so that a drift in the
// machine's speed weighs on both sides alike; command servers share one
// URL, so one runs all its rounds, then the other.
//
// Load goes through loadgen and servers start through server.Launch; the
// servers report their address and readiness on a structured channel, so
// nothing here reads their logs or knows their command-line flags.
package bench
