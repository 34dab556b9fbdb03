package queue

import (
	"cmp"
	"context"
	"net/http"
	"time"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/httpfront"
	"github.com/flipbench/flipbench/server"
)

// Health is the body of the front's GET /healthz.
type Health struct {
	// PID is the front's; Mode is "queue"; Reply is wait or async; NATS
	// the broker's URL, password hidden.
	PID   int    `json:"pid"`
	Mode  string `json:"mode"`
	Reply string `json:"reply"`
	NATS  string `json:"nats"`
	// Workers is the local workers the front supervises, their served
	// jobs counted from the job records; RemoteWorkers every other worker
	// the records show took a job since the front started (a worker on
	// another machine, or one of another front's).
	Workers       []server.WorkerHealth `json:"workers"`
	RemoteWorkers []SeenWorker          `json:"remote_workers"`
	// Stream is the stream's and the consumer's state; StreamError says
	// why it could not be read.
	Stream      *Depth `json:"stream,omitempty"`
	StreamError string `json:"stream_error,omitempty"`
	// Queue is this front's jobs no worker has taken yet, QueueLimit its
	// bound, Rejected the 503s since the start.
	Queue      int   `json:"queue"`
	QueueLimit int   `json:"queue_limit"`
	Rejected   int64 `json:"rejected"`
	// Running is the jobs running now; Inflight the POST /flip requests
	// in progress; Accepted the jobs put on the stream since the start;
	// Done and Failed the jobs seen ending.
	Running  int     `json:"running"`
	Inflight int64   `json:"inflight"`
	Accepted int64   `json:"accepted"`
	Done     int64   `json:"done"`
	Failed   int64   `json:"failed"`
	UptimeS  float64 `json:"uptime_s"`
}

func (f *Front) health(ctx context.Context) Health {
	f.mu.Lock()
	h := Health{PID: f.pid, Mode: "queue", Reply: cmp.Or(f.cfg.Reply, ReplyWait), NATS: broker.Redact(f.cfg.NATS),
		Queue: len(f.waiting), QueueLimit: cmp.Or(f.cfg.Queue, server.DefaultQueue), Running: len(f.running)}
	f.mu.Unlock()
	h.Rejected, h.Done, h.Failed = f.stats.counts()
	h.Inflight, h.Accepted = f.inflight.Load(), f.accepted.Load()
	h.UptimeS = float64(time.Since(f.start).Milliseconds()) / 1000
	local := []server.WorkerHealth{}
	if f.cfg.Workers != nil {
		local = f.cfg.Workers()
	}
	h.Workers, h.RemoteWorkers = f.seen.split(local)
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if d, err := f.q.Depth(dctx); err != nil {
		h.StreamError = err.Error()
	} else {
		h.Stream = &d
	}
	return h
}

func (f *Front) handleHealth(w http.ResponseWriter, r *http.Request) {
	httpfront.WriteJSON(w, http.StatusOK, f.health(r.Context()))
}
