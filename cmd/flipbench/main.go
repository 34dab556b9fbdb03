// Command flipbench measures what running a CPU-heavy HTTP server as a
// cluster of worker processes buys over a single worker.
//
// It is the Go version of a well-known Node.js experiment: a server whose
// POST /flip copies a ~6.7 MB photo into a temporary directory, flips it
// vertically, saves it, deletes it and answers, run once as one process and
// once as one worker per CPU.
//
// Usage:
//
//	$ flipbench bench                        # the experiment: standard vs cluster, side by side
//	$ flipbench standard                     # one worker on 127.0.0.1:3000
//	$ flipbench cluster --workers 4          # four workers on one socket
//	$ flipbench queue --workers 2            # an HTTP front and workers on NATS JetStream
//	$ flipbench worker --nats nats://10.0.0.5:4222  # a queue worker, on any machine
//	$ flipbench load -n 10 -v                # 10 concurrent POST /flip, like the article's script
//	$ flipbench load -n 3000 --agents 3      # the load spread over three machines, one instant
//	$ flipbench agent --nats nats://10.0.0.5:4223 --nats-token T  # a load agent, on any machine
//	$ flipbench compare base.json head.json  # a CI verdict between two bench runs
//	$ flipbench report a.json b.json         # merge load or bench files
//	$ flipbench flip photo.jpg flipped.jpg   # the job once, with timings
//	$ flipbench version
//
// Every flag can also be set as FLIPBENCH_<COMMAND>_<FLAG>
// (FLIPBENCH_CLUSTER_THREADS=2, FLIPBENCH_LOAD_N=20); a flag on the command
// line wins. Results go to stdout, logs to stderr.
// Exit codes: 0 ok, 1 failure, 2 bad usage or unusable input, 3 interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
