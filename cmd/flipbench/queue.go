package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/queue"
	"github.com/flipbench/flipbench/server"
)

// queueOptions are the flags of `queue`.
type queueOptions struct {
	serve     serveOptions // the flags it shares with cluster
	nats      string
	natsAddr  string
	natsToken string
	natsCreds string
	natsCA    string
	tlsCert   string
	tlsKey    string
	store     string
	reply     string
	ackWait   time.Duration
	tries     int
	keep      time.Duration
	nice      int
	replicas  int
}

func newQueueCmd(runF func(context.Context, *queueOptions, io.Writer, io.Writer) error) *cobra.Command {
	opts := &queueOptions{serve: serveOptions{mode: "queue"}}
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Run the flip server as an HTTP front and workers on a NATS JetStream queue",
		Long: `Run the flip server as the article advises: an HTTP front puts each job on a NATS
JetStream work-queue stream, and workers pull the next job when they are free,
on this machine (--workers, supervised and restarted like a cluster's) or on
others (flipbench worker --nats URL). The front embeds a NATS server on
--nats-addr (loopback unless told), or uses an existing one (--nats URL).

--reply wait (default): POST /flip answers once its job is done, so load and
bench measure it like a cluster. --reply async: 202 Accepted at once with
Location: /jobs/ID; GET /jobs/ID tells the job's state and timings
(?return=image the image), GET /jobs/ID/events streams its changes as
Server-Sent Events.

Request bodies travel through JetStream's object store, so a 6.6 MB photo
reaches a worker on any machine without raising NATS's message size limit;
each is deleted when its job ends. A job is acknowledged only when its outcome
is recorded: a worker killed mid-job lets another take it after --ack-wait,
and a job delivered --tries times ends failed. --store DIR keeps the stream on
disk: jobs accepted with 202 survive a kill -9 of the front.

Once bound it prints "listening on http://HOST:PORT" and
"nats listening on nats://HOST:PORT" on stdout; logs go to stderr. See
docs/queue.md for workers on other machines.`,
		Example: `  $ flipbench queue
  $ flipbench queue --workers 2 --addr 127.0.0.1:0 --nats-addr 127.0.0.1:0
  $ flipbench queue --reply async --store /var/lib/flipbench
  $ flipbench queue --workers 0 --nats-addr 0.0.0.0:4222 --nats-token "$TOKEN"
  $ curl -X POST http://127.0.0.1:3000/flip`,
		Args: rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runQueue(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	s := &opts.serve
	f.StringVar(&s.addr, "addr", defaultAddr, "address to listen on (port 0 picks a free port)")
	f.Var(newWorkers(&s.workers, runtime.NumCPU(), 0), "workers", "local worker processes (0: the front alone, for workers elsewhere), at most "+server.MaxWorkersRule())
	f.StringVar(&s.image, "image", "", "image to flip when a request has no body, or fixture:NAME (default: the embedded 20 MP photo)")
	f.Var(newIntAtLeast(&s.threads, server.DefaultThreads, 0), "threads", "GOMAXPROCS and jobs at once per local worker (0: all CPUs)")
	f.Var(newIntRange(&s.quality, server.DefaultQuality, 1, 100), "quality", "JPEG quality of the flipped image (1-100)")
	f.StringVar(&s.tmpDir, "tmp-dir", "", "directory for the local workers' job files (default: the OS temp dir)")
	f.Var(newByteSize(&s.maxBody, server.DefaultMaxBody), "max-body", "largest request body accepted")
	f.Var(newIntAtLeast(&s.maxPixels, server.DefaultMaxPixels, 1), "max-pixels", "largest image accepted, in pixels")
	f.DurationVar(&s.grace, "grace", server.DefaultGrace, "time waiting requests and running jobs get after SIGTERM")
	f.DurationVar(&s.readTO, "read-timeout", server.DefaultReadTimeout, "longest a request may take to arrive, body included; a slower one gets 408")
	f.Var(newEnum(&s.logFormat, "text", "text", "json"), "log-format", "log format")
	f.Var(newIntAtLeast(&s.queue, server.DefaultQueue, 1), "queue", "jobs that may wait in the stream for a worker, every front's; past it 503 with Retry-After")
	f.StringVar(&opts.nats, "nats", "", "an existing NATS server's URL, instead of the embedded one")
	f.StringVar(&opts.natsAddr, "nats-addr", queue.DefaultNATSAddr, "where the embedded NATS server listens (port 0 picks a free port)")
	f.StringVar(&opts.natsToken, "nats-token", "", "token the NATS server requires (needed to listen off the loopback)")
	f.StringVar(&opts.natsCreds, "nats-creds", "", "NATS credentials file, for an existing server (--nats)")
	f.StringVar(&opts.tlsCert, "nats-tls-cert", "", "PEM certificate: the embedded NATS server requires TLS (with --nats-tls-key)")
	f.StringVar(&opts.tlsKey, "nats-tls-key", "", "PEM key of --nats-tls-cert")
	f.StringVar(&opts.natsCA, "nats-cacert", "", "PEM file the NATS server's certificate must chain to (default: the system's roots; with --nats-tls-cert, that certificate)")
	f.StringVar(&opts.store, "store", "", "keep the embedded server's stream in this directory (default: in memory)")
	f.Var(newEnum(&opts.reply, queue.ReplyWait, queue.Replies...), "reply", "wait: answer when the job is done; async: 202 and /jobs/ID")
	f.DurationVar(&opts.ackWait, "ack-wait", queue.DefaultAckWait, "how long a worker may go silent before its job goes to another")
	f.Var(newIntAtLeast(&opts.tries, queue.DefaultTries, 1), "tries", "deliveries of a job before it ends failed")
	f.Var(newIntRange(&opts.nice, queue.DefaultWorkerNice, 0, 19), "worker-nice", "the local workers' nice value (0-19): the front's answers go before their jobs on shared CPUs; 0 runs them at the front's priority")
	f.DurationVar(&opts.keep, "keep", queue.DefaultKeep, "how long job records and kept images live")
	f.Var(newIntRange(&opts.replicas, 1, 1, queue.MaxReplicas), "replicas", "how many servers of a NATS cluster (--nats URL,URL,URL) hold the jobs, their records and uploads, each (1-5)")
	return cmd
}

func (o *queueOptions) validate(cmd *cobra.Command) error {
	if err := o.serve.validate(); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ack-wait", o.ackWait}, {"keep", o.keep}} {
		if d.v <= 0 {
			return usageErrorf("--%s must be > 0, got %s", d.name, d.v)
		}
	}
	if err := checkFlagFiles(flagFile{"nats-cacert", o.natsCA}, flagFile{"nats-tls-cert", o.tlsCert},
		flagFile{"nats-tls-key", o.tlsKey}, flagFile{"nats-creds", o.natsCreds}); err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErrorf("--nats-tls-cert and --nats-tls-key go together: give both")
	}
	if o.nats != "" {
		if err := broker.CheckURL(o.nats); err != nil {
			return usageErrorf("--nats: %w", err)
		}
		for _, name := range []string{"nats-addr", "store", "nats-tls-cert", "nats-tls-key"} {
			if cmd.Flags().Changed(name) {
				return usageErrorf("--%s is for the embedded NATS server; --nats names another", name)
			}
		}
		return nil
	}
	if o.replicas > 1 {
		return usageErrorf("--replicas %d needs a NATS cluster of %d servers or more (--nats URL,URL,URL); the embedded server is one", o.replicas, o.replicas)
	}
	if o.natsCreds != "" {
		return usageErrorf("--nats-creds is for an existing NATS server (--nats); the embedded one takes --nats-token")
	}
	if err := checkAddr(o.natsAddr); err != nil {
		return usageErrorf("--nats-addr: %w", err)
	}
	host, _, _ := net.SplitHostPort(o.natsAddr)
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && o.natsToken == "" {
		return usageErrorf("--nats-addr %s is off the loopback: set --nats-token (or FLIPBENCH_QUEUE_NATS_TOKEN) so that the queue is not open to all", o.natsAddr)
	}
	if o.store != "" {
		// Like every path flag, a missing directory is refused, not made
		// with all its parents; the store itself is made in one that is.
		if st, err := os.Stat(filepath.Dir(filepath.Clean(o.store))); err != nil || !st.IsDir() {
			return usageErrorf("--store %s: its directory %s does not exist", o.store, filepath.Dir(filepath.Clean(o.store)))
		}
		if err := os.Mkdir(o.store, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return usageErrorf("--store: %w", err)
		}
	}
	return o.front().Validate()
}

func (o *queueOptions) front() queue.FrontConfig {
	s := o.serve
	return queue.FrontConfig{
		Reply:       o.reply,
		Queue:       s.queue,
		Image:       s.image,
		Quality:     s.quality,
		MaxPixels:   s.maxPixels,
		MaxBody:     s.maxBody,
		ReadTimeout: s.readTO,
	}
}

func runQueue(ctx context.Context, opts *queueOptions, stdout, stderr io.Writer) error {
	ignoreSIGPIPE()
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP) // rolling restart of the local workers
	defer signal.Stop(reload)
	storage := queue.Memory
	if opts.store != "" || opts.nats != "" {
		storage = queue.File // an external server keeps what it is given
	}
	s := &queue.Server{
		Addr: opts.serve.addr,
		NATS: opts.nats,
		Embedded: broker.EmbeddedConfig{Addr: opts.natsAddr, StoreDir: opts.store, Token: opts.natsToken,
			TLSCert: opts.tlsCert, TLSKey: opts.tlsKey},
		Auth:       broker.Auth{Token: opts.natsToken, Creds: opts.natsCreds, CACert: opts.natsCA},
		Storage:    storage,
		AckWait:    opts.ackWait,
		Tries:      opts.tries,
		Keep:       opts.keep,
		Replicas:   opts.replicas,
		Front:      opts.front(),
		Workers:    opts.serve.workers,
		Worker:     server.Config{Threads: opts.serve.threads, TmpDir: opts.serve.tmpDir, LogFormat: opts.serve.logFormat},
		WorkerNice: opts.nice,
		Grace:      opts.serve.grace,
		Logger:     server.NewLogger(stderr, opts.serve.logFormat),
		Stderr:     stderr,
		Reload:     reload,
	}
	err := s.Run(ctx, func(httpURL, natsURL string) {
		fmt.Fprintf(stdout, "listening on %s\nnats listening on %s\n", httpURL, broker.Redact(natsURL))
	})
	if errors.Is(err, queue.ErrTooFewServers) {
		return usageErrorf("--replicas: %w", err)
	}
	return err
}

// workerOptions are the flags of `worker`.
type workerOptions struct {
	natsClient
	name      string
	threads   int
	tmpDir    string
	grace     time.Duration
	logFormat string
}

// newQueueWorkerCmd is the public queue worker: it joins a queue from any
// machine. Started by a `flipbench queue` front as one of its local
// workers, it is supervised (lifeline, ready pipe) like a cluster's.
func newQueueWorkerCmd(runF func(context.Context, *workerOptions, io.Writer) error) *cobra.Command {
	opts := &workerOptions{}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Pull flip jobs from a flipbench queue, on any machine",
		Long: `Join the queue of a flipbench queue front: connect to its NATS server, pull the
next job whenever free, flip, and report the result, which the front gives its
client. One job at a time by default (--threads 1), as single-threaded as a
cluster's worker. --name identifies it in job records and logs (default
HOST-PID).

SIGTERM or Ctrl-C: no more jobs; a running job gets --grace to finish, else
it goes back to the queue for another worker. A worker killed mid-job loses
nothing: the job goes to another worker once its ack wait has passed.`,
		Example: `  $ flipbench worker --nats nats://127.0.0.1:4222
  $ flipbench worker --nats nats://front.example:4222 --name gpu-box-1 --threads 4
  $ FLIPBENCH_WORKER_NATS_TOKEN=secret flipbench worker --nats nats://10.0.0.5:4222
  $ flipbench worker --nats tls://front.example:4222 --nats-cacert front.pem`,
		Args: rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.ErrOrStderr())
			}
			return runQueueWorker(cmd.Context(), opts, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	opts.natsClient.flags(f, "the queue's NATS server, nats://HOST:PORT (printed by flipbench queue)")
	f.StringVar(&opts.name, "name", "", "the worker's name in job records and logs (default: HOST-PID)")
	f.Var(newIntAtLeast(&opts.threads, server.DefaultThreads, 0), "threads", "GOMAXPROCS and jobs at once (0: all CPUs)")
	f.StringVar(&opts.tmpDir, "tmp-dir", "", "directory for job files (default: the OS temp dir)")
	f.DurationVar(&opts.grace, "grace", server.DefaultGrace, "time a running job gets to finish after SIGTERM")
	f.Var(newEnum(&opts.logFormat, "text", "text", "json"), "log-format", "log format")
	return cmd
}

func runQueueWorker(ctx context.Context, opts *workerOptions, stderr io.Writer) error {
	auth, err := opts.check("the queue's NATS server", "flipbench worker --nats nats://127.0.0.1:4222")
	if err != nil {
		return err
	}
	if opts.grace <= 0 {
		return usageErrorf("--grace must be > 0, got %s", opts.grace)
	}
	ignoreSIGPIPE()
	runtime.GOMAXPROCS(cmp.Or(opts.threads, runtime.NumCPU()))
	w := &queue.Worker{
		URL:    opts.nats,
		Auth:   auth,
		Name:   opts.name,
		Slots:  opts.threads,
		TmpDir: opts.tmpDir,
		Grace:  opts.grace,
		Logger: server.NewLogger(stderr, opts.logFormat),
	}
	return w.Run(ctx)
}

// newServeQueueWorkerCmd is the hidden command that a queue server
// starts for each local worker (server.EntryQueueWorker): the broker and
// its credentials come in the worker's spec.
func newServeQueueWorkerCmd() *cobra.Command {
	return newWorkerEntryCmd(server.EntryQueueWorker, "Pull jobs as a local worker of a flipbench queue (internal)",
		func() (workerProcess, error) { return asProcess(queue.InheritedLocalWorker()) })
}

// newSuperviseQueueCmd is the hidden command that a bench starts for a
// queue server (queue.Launch, server.EntrySuperviseQueue): its spec,
// its reply mode included, comes in the environment, and it reports its
// URL and its local workers' readiness on the inherited status pipe.
// --reply is only for launchers older than this build, which passed the
// reply mode as a flag.
func newSuperviseQueueCmd() *cobra.Command {
	var legacyReply string
	cmd := &cobra.Command{
		Use:    server.EntrySuperviseQueue,
		Short:  "Serve as a queue server launched by flipbench bench (internal)",
		Hidden: true,
		Args:   rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ignoreSIGPIPE()
			err := queue.RunLaunched(cmd.Context(), cmd.ErrOrStderr(), legacyReply)
			if errors.Is(err, server.ErrNotLaunched) {
				return &usageError{err}
			}
			return err
		},
	}
	cmd.Flags().Var(newEnum(&legacyReply, queue.ReplyWait, queue.Replies...), "reply", "wait or async (from a launcher older than this build)")
	return cmd
}

// flagFile is a file a flag names, to be read later.
type flagFile struct{ flag, path string }

// checkFlagFiles fails with a usage error if a named file cannot be
// read: found out at once, not when the broker connects.
func checkFlagFiles(files ...flagFile) error {
	for _, f := range files {
		if f.path == "" {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			return usageErrorf("--%s: %w", f.flag, err)
		}
		fh.Close()
	}
	return nil
}
