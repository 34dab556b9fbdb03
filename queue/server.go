package queue

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/server"
)

// Server is the whole `flipbench queue` process: the HTTP front, the
// embedded NATS server (unless NATS names another), and Workers local
// worker processes that it supervises as a cluster's supervisor does.
// Local workers connect to the broker over TCP, as remote ones do.
type Server struct {
	// Addr is where the front listens, HOST:PORT (port 0: a free one).
	Addr string
	// NATS is an existing NATS server's URL. Empty means the embedded
	// server, configured by Embedded.
	NATS     string
	Embedded broker.EmbeddedConfig
	// Auth is the front's and the local workers' credentials on the
	// broker. With the embedded server, its Token is Embedded.Token.
	Auth broker.Auth
	// Storage is the stream's and the records' storage (see
	// [SetupConfig]).
	Storage Storage
	// Replicas is how many servers of a NATS cluster (NATS: their URLs,
	// separated by commas) hold the queue (see SetupConfig.Replicas);
	// zero means 1, the only choice with the embedded server.
	Replicas int
	// AckWait, Tries and Keep go to [Setup]; zero means their defaults.
	AckWait time.Duration
	Tries   int
	Keep    time.Duration
	// Front configures the HTTP front.
	Front FrontConfig
	// Workers is the number of local worker processes. Zero means none:
	// the front alone, for workers elsewhere.
	Workers int
	// Worker is the local workers' configuration: Threads (GOMAXPROCS
	// and jobs at once), TmpDir and LogFormat are used.
	Worker server.Config
	// WorkerNice is the local workers' nice value (server.Cluster.Nice),
	// [DefaultWorkerNice] from the CLI: the front's answers (202s, status
	// requests, event streams) then go before the jobs on shared CPUs.
	// Zero leaves the workers at the front's priority.
	WorkerNice int
	// Exe is the flipbench binary to start as a local worker
	// ([server.EntryQueueWorker], [LocalWorker]). Empty means this
	// program.
	Exe string
	// Grace is how long requests waiting for their jobs, and running
	// jobs, get after a stop. Zero means [server.DefaultGrace].
	Grace time.Duration
	// Logger receives the front's events; Stderr the local workers'
	// logs. Nil means none and os.Stderr.
	Logger *slog.Logger
	Stderr io.Writer
	// Reload triggers a rolling restart of the local workers, one at a
	// time. Nil means never.
	Reload <-chan os.Signal
	// Ready, if set, is called each time a local worker becomes ready
	// (restarted ones included), from the goroutine that supervises it:
	// it must not block.
	Ready func(worker, pid int)
}

// Run starts the broker (or connects to NATS), sets the queue up, starts
// the local workers, calls listening with the front's URL
// ("http://127.0.0.1:3000") and the broker's ("nats://127.0.0.1:4222"),
// and serves until ctx is done. Then it stops: no more requests, those
// waiting for their jobs get Grace, the local workers finish their jobs
// (SIGTERM, Grace, SIGKILL), and the embedded server shuts down. It
// returns nil after such a stop.
func (s *Server) Run(ctx context.Context, listening func(httpURL, natsURL string)) error {
	log := cmp.Or(s.Logger, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	defer ln.Close()

	url, auth := s.NATS, s.Auth
	var inProcess []nats.Option
	if url == "" {
		e, err := broker.StartEmbedded(s.Embedded)
		if err != nil {
			return err
		}
		defer e.Shutdown()
		url, auth, inProcess = s.embeddedBroker(e, auth)
	}
	nc, err := broker.Connect(url, "flipbench queue front", auth, log, inProcess...)
	if err != nil {
		return err
	}
	defer nc.Close()
	q, err := s.setup(ctx, nc, url)
	if err != nil {
		return err
	}

	front, local, err := s.newFront(ctx, q, url, log)
	if err != nil {
		return err
	}
	defer front.Close()

	if listening != nil {
		listening("http://"+ln.Addr().String(), url)
	}
	log.Info("supervisor started", "mode", "queue", "pid", os.Getpid(), "workers", s.Workers,
		"threads", s.Worker.Threads, "reply", cmp.Or(s.Front.Reply, ReplyWait), "addr", ln.Addr().String(), "nats", broker.Redact(url))

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	workersCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	workersDone := s.startWorkers(workersCtx, stop, url, auth, local, log)

	err = front.Serve(runCtx, ln, s.Grace)
	// The front is drained: what waited for a job has its answer. Now
	// the workers finish what they run, and the broker goes last.
	stopWorkers()
	werr := <-workersDone
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	log.Info("supervisor stopped", "mode", "queue", "pid", os.Getpid())
	return nil
}

// embeddedBroker returns the URL of the embedded server e, the
// credentials on it (its token, and its certificate as the root when it
// serves TLS and auth names none) and the options that connect the front
// in process.
func (s *Server) embeddedBroker(e *broker.Embedded, auth broker.Auth) (string, broker.Auth, []nats.Option) {
	auth.Token = s.Embedded.Token
	if s.Embedded.TLSCert != "" && auth.CACert == "" {
		// The local workers connect over TLS: a self-signed
		// certificate is its own root.
		auth.CACert = s.Embedded.TLSCert
	}
	return e.URL(), auth, []nats.Option{e.InProcess()}
}

// setupTimeout bounds the wait for the broker to answer a queue's setup.
const setupTimeout = 30 * time.Second

// setup sets the queue up on nc, the connection to the broker at url,
// giving up after setupTimeout. Stopped before then, it returns an error
// wrapping [ErrNotReached].
func (s *Server) setup(ctx context.Context, nc *nats.Conn, url string) (*Queue, error) {
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	q, err := Setup(sctx, nc, SetupConfig{Storage: s.Storage, AckWait: s.AckWait, Tries: s.Tries, Keep: s.Keep, Replicas: s.Replicas})
	cancel()
	switch {
	case errors.Is(err, ErrTooFewServers):
		return nil, err
	case err != nil && ctx.Err() != nil:
		return nil, notReached(nc, url)
	case err != nil && !nc.IsConnected():
		return nil, fmt.Errorf("set up the queue on %s: the server did not answer in %s: %w", broker.Redact(url), setupTimeout, err)
	case err != nil:
		return nil, fmt.Errorf("set up the queue on %s: %w", broker.Redact(url), err)
	}
	return q, nil
}

// newFront makes the HTTP front on q, showing the broker's url and the
// local workers' health and restarts; the local workers report to the
// returned localWorkers as they become ready.
func (s *Server) newFront(ctx context.Context, q *Queue, url string, log *slog.Logger) (*Front, *localWorkers, error) {
	local := &localWorkers{pids: make([]int, s.Workers)}
	fcfg := s.Front
	fcfg.NATS, fcfg.Logger = url, log
	fcfg.Workers, fcfg.Restarts = local.health, local.restartCount
	front, err := NewFront(ctx, q, fcfg)
	if err != nil {
		return nil, nil, err
	}
	return front, local, nil
}

// startWorkers starts the local workers, if any, supervised until ctx is
// done, and returns the channel that receives how their supervision
// ended (nil at once when there are none). If the workers give up, stop
// ends the front with their error.
func (s *Server) startWorkers(ctx context.Context, stop context.CancelCauseFunc, url string, auth broker.Auth, local *localWorkers, log *slog.Logger) <-chan error {
	workersDone := make(chan error, 1)
	if s.Workers > 0 {
		c := s.cluster(url, auth, local, log)
		go func() {
			err := c.RunDetached(ctx)
			if err != nil {
				stop(err) // the workers gave up: so does the front
			}
			workersDone <- err
		}()
	} else {
		workersDone <- nil
	}
	return workersDone
}

// cluster supervises the local workers.
func (s *Server) cluster(url string, auth broker.Auth, local *localWorkers, log *slog.Logger) *server.Cluster {
	return &server.Cluster{
		Name:    "queue",
		Workers: s.Workers,
		Config:  s.Worker,
		Exe:     s.Exe,
		Args:    []string{server.EntryQueueWorker},
		Extra:   localSpec{URL: url, Auth: auth},
		Grace:   s.Grace,
		Nice:    s.WorkerNice,
		Logger:  log,
		Stderr:  s.Stderr,
		Ready: func(worker, pid int) {
			local.ready(worker, pid)
			if s.Ready != nil {
				s.Ready(worker, pid)
			}
		},
		Reload: s.Reload,
	}
}

// localWorkers is the front's view of its local workers.
type localWorkers struct {
	mu       sync.Mutex
	pids     []int
	restarts []int
	total    int
}

func (l *localWorkers) ready(worker, pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if worker < 0 || worker >= len(l.pids) {
		return
	}
	if l.restarts == nil {
		l.restarts = make([]int, len(l.pids))
	}
	if l.pids[worker] != 0 {
		l.restarts[worker]++
		l.total++
	}
	l.pids[worker] = pid
}

func (l *localWorkers) health() []server.WorkerHealth {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []server.WorkerHealth{}
	for i, pid := range l.pids {
		h := server.WorkerHealth{Index: i, PID: pid, State: "ready"}
		if pid == 0 || !processAlive(pid) {
			h.State = "down"
		}
		if l.restarts != nil {
			h.Restarts = l.restarts[i]
		}
		out = append(out, h)
	}
	return out
}

func (l *localWorkers) restartCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// processAlive reports whether a child process still runs (not a zombie
// waiting to be reaped: the supervisor reaps its workers at once).
func processAlive(pid int) bool {
	if runtime.GOOS != "linux" {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name's last closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
