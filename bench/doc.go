// Package bench runs the article's experiment: the same bursts at a
// single worker and at each other arm (clusters of a size and a dispatch
// policy, queues; of one build or of two), round by round, and assembles
// the run file (a results.Run).
//
// [Run] takes a [Config]: how to start the arms' servers (a [Servers]:
// flipbench's own through [Own], or any server under test through
// [Commands]), what to measure (a [Measurement]: a [Burst] of N requests
// by default), how to fire load (a [Loader]: loadgen in this process by
// default) and the rounds. The order of work is a value, [Schedule]:
// start, warm up, measure each round, stop. Own servers run side by side
// and their rounds interleave in ABBA order (standard, cluster, cluster,
// standard...), so that a drift in the machine's speed weighs on every
// arm alike; command servers share one URL, so one runs all its rounds,
// then the next.
//
// Servers start through server.Launch (a queue's through queue.Launch);
// they report their address and readiness on a structured channel, so
// nothing here reads their logs or knows their command-line flags.
package bench
