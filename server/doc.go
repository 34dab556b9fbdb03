// Package server is the flip server of the article's experiment: the job
// (copy a photo into a temporary directory, decode it, flip it vertically,
// encode it, save it, delete both files), the HTTP front that runs it, the
// worker process that serves on a listening socket it inherits, and the
// supervisor that forks and restarts the workers.
//
// One process serves with [New] and [Server.Serve]; `flipbench standard` is a
// [Cluster] of one worker and `flipbench cluster` a Cluster of NumCPU. The
// supervisor binds once and hands the socket to every worker, and a worker
// takes a job slot before it calls Accept, so on the shared socket the first
// free worker takes the next connection.
//
// Connections carry one request each: keep-alive is off. A connection holds
// a job slot from Accept to Close, so a client that kept an idle connection
// open would pin a worker that could be flipping someone else's photo, and
// the next request on that connection could not go to a free worker. A new
// TCP handshake on loopback costs tens of microseconds beside a job of about
// a second. A client that connects and sends nothing holds its slot for at
// most [DefaultReadHeaderTimeout].
//
// Processes talk through structured channels only. A supervisor gives each
// worker a JSON spec ([WorkerEnv]) and three inherited files: the socket, a
// lifeline pipe and a ready pipe ([InheritedWorker], [Worker.Run]). [Launch]
// starts a supervisor for a benchmark the same way ([LaunchEnv],
// [RunLaunched]): a JSON spec in, the address and each worker's readiness
// out as JSON lines on a status pipe. Logs are for people; nothing parses
// them.
package server
