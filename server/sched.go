package server

import (
	"fmt"
	"slices"
	"strings"
)

// The dispatch policies of a [Cluster]: who takes the next request.
const (
	// SchedShared: every worker accepts from the one shared socket, and
	// only when it has a free job slot, so the first free worker takes
	// the next connection. The kernel holds what waits; a connection
	// that sends nothing holds a worker until its header deadline.
	SchedShared = "shared"
	// SchedRR: the supervisor accepts every connection and hands it to
	// the next worker in turn, busy or not: Node.js cluster's default.
	// Connections wait in their worker's queue.
	SchedRR = "rr"
	// SchedFree: the supervisor accepts every connection, reads its
	// request head under a deadline, answers /healthz and /metrics
	// itself, and hands the rest, first come first served, to a worker
	// with a free slot. Idle and slow clients cost the supervisor a
	// goroutine, never a worker.
	SchedFree = "free"
	// SchedReusePort: each worker listens on a socket of its own on the
	// same port (SO_REUSEPORT) and the kernel hashes connections to them,
	// busy or not. Linux only.
	SchedReusePort = "reuseport"
)

// Scheds lists the dispatch policies.
var Scheds = []string{SchedShared, SchedRR, SchedFree, SchedReusePort}

// DefaultSched is the dispatch policy of a cluster: free, the only one
// under which idle or slow clients cannot hold a worker and /healthz
// never waits behind jobs (docs/dispatch.md has the measurements).
const DefaultSched = SchedFree

// DefaultQueue bounds the requests waiting for a worker under rr and
// free. At about a second a job (the default photo) on two workers, the
// last of 128 waits about a minute, the timeout of most clients and
// proxies: past that a client is better told to come back (503 with
// Retry-After) than kept waiting. The supervisor holds at most 16 KiB of
// request head for each.
const DefaultQueue = 128

// CheckSched returns an error unless sched is one of [Scheds] or empty
// (the default).
func CheckSched(sched string) error {
	if sched != "" && !slices.Contains(Scheds, sched) {
		return fmt.Errorf("dispatch policy must be one of %s, got %q", strings.Join(Scheds, ", "), sched)
	}
	return nil
}
