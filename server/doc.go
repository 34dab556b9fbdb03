// Package server is the flip server of the article's experiment: the job
// (copy a photo into a temporary directory, decode it, flip it vertically,
// encode it, save it, delete both files), the HTTP front that runs it, the
// worker process that serves on a listening socket it inherits, and the
// supervisor that forks and restarts the workers.
//
// One process serves with [New] and [Server.Serve]; `flipbench standard` is a
// [Cluster] of one worker and `flipbench cluster` a Cluster of NumCPU. Who
// takes the next request is the cluster's dispatch policy ([Scheds]): under
// [SchedFree], the default, the supervisor accepts, reads the request head,
// answers /healthz and /metrics itself and hands the connection to a worker
// with a free job slot over a unix socket; under [SchedShared] every worker
// takes a job slot before it calls Accept on the one shared socket; under
// [SchedRR] the supervisor hands connections to the workers in turn; under
// [SchedReusePort] each worker has a socket of its own on the port.
//
// Connections carry one request each: keep-alive is off. A connection holds
// a job slot from Accept to Close, so a client that kept an idle connection
// open would pin a worker that could be flipping someone else's photo, and
// the next request on that connection could not go to a free worker. A new
// TCP handshake on loopback costs tens of microseconds beside a job of about
// a second.
//
// Processes talk through structured channels only. A supervisor gives each
// worker a JSON spec ([WorkerEnv]) and three inherited files: the socket, a
// lifeline pipe and a ready pipe ([InheritedWorker], [Worker.Run]). [Launch]
// starts a supervisor for a benchmark the same way ([LaunchEnv],
// [RunLaunched]): a JSON spec in, the address and each worker's readiness
// out as JSON lines on a status pipe. Logs are for people; nothing parses
// them.
package server
