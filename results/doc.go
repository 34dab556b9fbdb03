// Package results is flipbench's data model: the files its commands write
// and read, and the statistics every other package shares.
//
//   - A load file ([Summary], schema [LoadSchema]) is one load run: every
//     request as a [Record], and [Stats] per round and overall.
//   - A run file ([Run], schema [RunSchema]) is a bench: the same bursts at
//     each of its arms ([Arm], by name: the standard server, clusters of a
//     size and a dispatch policy, queues; in a paired run, each of a base
//     and a head build), round by round, with the machine ([Env]) and the
//     setup ([RunConfig]). [ParseRun] also reads
//     the older [RunSchemaV1] and [RunSchemaV2] files (one standard and
//     one cluster), validates the arms ([Run.Validate]) and recomputes
//     every derived figure from the requests ([Run.Derive]): speedups,
//     Jain's index, the ideal last response, and the Universal
//     Scalability Law fitted to clusters of several sizes ([FitUSL]).
//   - The metric table ([Metrics]) names every figure a user can assert,
//     gate or compare, with its unit and direction.
//
// It is a leaf: it imports nothing of flipbench's, so that reading and
// reporting results never links the flip server or its embedded photo.
package results
