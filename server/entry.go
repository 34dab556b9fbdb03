package server

// The entry points: the hidden commands by which flipbench's processes
// start one another. This is the one place that names them; the CLI
// registers a hidden command under each (and its tests check that it has
// them all). None takes flags: what a process runs comes in a JSON spec in
// its environment, with inherited files, so that renaming a user's flag
// cannot break a bench or a queue.
const (
	// EntryWorker is a cluster's worker process ([InheritedWorker],
	// [Worker.Run]). It is not "worker": that is the public queue worker,
	// `flipbench worker --nats URL`.
	EntryWorker = "serve-worker"
	// EntrySupervise is a cluster's supervisor started by [Launch]
	// ([RunLaunched]).
	EntrySupervise = "supervise"
	// EntrySuperviseQueue is a queue server started by [Launch]: its
	// front, broker and local workers (package queue).
	EntrySuperviseQueue = "supervise-queue"
	// EntryQueueWorker is a queue server's local worker, supervised as a
	// cluster's worker is ([Cluster.RunDetached]), its broker and
	// credentials in the spec's extra settings (package queue).
	EntryQueueWorker = "serve-queue-worker"
)

// Entries lists the entry points.
var Entries = []string{EntryWorker, EntrySupervise, EntrySuperviseQueue, EntryQueueWorker}
