package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/server"
)

// The names of what the queue keeps on the broker.
const (
	// StreamName is the work-queue stream of jobs waiting for a worker.
	StreamName = "FLIPBENCH_JOBS"
	// SubjectPrefix starts every job's subject: flipbench.jobs.ID.
	SubjectPrefix = "flipbench.jobs."
	// ConsumerName is the durable pull consumer every worker pulls from.
	ConsumerName = "flipbench-workers"
	// RecordsBucket is the key-value bucket of job records, by job ID.
	RecordsBucket = "flipbench-jobs"
	// UploadsBucket is the object store of request bodies and outputs.
	UploadsBucket = "flipbench-uploads"
)

// Defaults for the zero values of [Setup] and [FrontConfig].
const (
	// DefaultAckWait is how long a worker may stay silent about a job
	// before the stream gives it to another worker. A worker reports
	// progress four times an ack wait, so only a dead or stalled worker
	// loses its job.
	DefaultAckWait = 10 * time.Second
	// DefaultTries is how many times a job is delivered before it ends
	// failed: a job that kills every worker that runs it stops there.
	DefaultTries = 3
	// DefaultKeep is how long job records, uploads left behind and
	// flipped images kept for GET /jobs/ID?return=image are kept.
	DefaultKeep = time.Hour
	// DefaultNATSAddr is where the embedded NATS server listens: the
	// loopback, never every interface unless told.
	DefaultNATSAddr = broker.DefaultAddr
)

// DefaultWorkerNice is the nice value of flipbench queue's local workers
// ([Server.WorkerNice]). At 10 a worker weighs about a tenth of the
// front on a shared CPU: the front answers at once while its workers
// flip, and the workers still take every cycle the front leaves.
const DefaultWorkerNice = 10

// The job states of a [JobStatus].
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// The reply modes of a front.
const (
	// ReplyWait keeps the article's shape: POST /flip answers once its
	// job is done, so load and bench measure it like a cluster.
	ReplyWait = "wait"
	// ReplyAsync answers 202 Accepted at once with Location: /jobs/ID.
	ReplyAsync = "async"
)

// Replies lists the reply modes.
var Replies = []string{ReplyWait, ReplyAsync}

// Storage is where the broker keeps the stream and the job records.
type Storage string

// The storages.
const (
	// Memory loses the queue with the server; the default of the
	// embedded server.
	Memory Storage = "memory"
	// File keeps it on disk: accepted jobs survive a restart.
	File Storage = "file"
)

func (s Storage) js() jetstream.StorageType {
	if s == File {
		return jetstream.FileStorage
	}
	return jetstream.MemoryStorage
}

// JobStatus is a job's record: the body of GET /jobs/ID and of each event
// of GET /jobs/ID/events.
type JobStatus struct {
	// ID is the job's.
	ID string `json:"id"`
	// State is queued, running, done or failed.
	State string `json:"state"`
	// Status is the HTTP status the job ended with: 200 when done, 4xx
	// for bad input, 500 when it gave up. Zero until it ends.
	Status int `json:"status,omitempty"`
	// Error says why a failed job failed.
	Error string `json:"error,omitempty"`
	// Worker names the worker that took it last, PID is its process.
	Worker string `json:"worker,omitempty"`
	PID    int    `json:"pid,omitempty"`
	// Tries is how many times it was delivered to a worker.
	Tries int `json:"tries,omitempty"`
	// Accepted is when the front accepted it; Started when its last try
	// started; Finished when it ended.
	Accepted time.Time  `json:"accepted"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	// QueueMs is from Accepted to Started: the upload and the wait for a
	// worker. ServiceMs is from Started to Finished.
	QueueMs   float64 `json:"queue_ms,omitempty"`
	ServiceMs float64 `json:"service_ms,omitempty"`
	// Result is the job's sizes and timings once done.
	Result *server.Result `json:"result,omitempty"`
	// Image is true when the flipped image is kept for ?return=image.
	Image bool `json:"image,omitempty"`
}

// Ended reports whether the job is done or failed.
func (s JobStatus) Ended() bool { return s.State == StateDone || s.State == StateFailed }

// InlineMax is the largest request body that travels inside its job's
// message; a larger one goes through the object store, in chunks.
const InlineMax = 256 << 10

// specHeader is the header of a job's message that holds its jobSpec;
// the message's data is the request body when it is inlined.
const specHeader = "Flipbench-Job"

// jobSpec is a job's message on the stream: this, as JSON, in the
// specHeader, and the body, if small, as the data.
type jobSpec struct {
	ID string `json:"id"`
	// Inline says the request body is the message's data. Upload names
	// it in the object store when it is larger than InlineMax. Image
	// names the source when there is no body: "fixture:NAME" or
	// "object:NAME".
	Inline bool   `json:"inline,omitempty"`
	Upload string `json:"upload,omitempty"`
	Image  string `json:"image,omitempty"`
	// Accepted is when the front accepted the request.
	Accepted time.Time `json:"accepted"`
	// WantImage asks the worker to keep the flipped image (out/ID).
	WantImage bool `json:"want_image,omitempty"`
	// Quality and MaxPixels are the front's, so that every worker, on
	// any machine, flips as the front was told to.
	Quality   int `json:"quality,omitempty"`
	MaxPixels int `json:"max_pixels,omitempty"`
}

func uploadName(id string) string { return "in/" + id }
func outputName(id string) string { return "out/" + id }

// ErrNotReached means a front or a worker was stopped before it reached
// its NATS server or its queue: it did no work, which the CLI reports as
// an interruption, not as a clean stop.
var ErrNotReached = errors.New("stopped before reaching the queue")

// Queue is a connection to the queue's stream, consumer, records and
// uploads.
type Queue struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	cons    jetstream.Consumer
	records jetstream.KeyValue
	uploads jetstream.ObjectStore
	ackWait time.Duration
	tries   int
}

// SetupConfig says how [Setup] makes the queue.
type SetupConfig struct {
	// Storage is the stream's and the records' storage. Empty means
	// Memory. Uploads always go to files: a burst of photos must not
	// sit in the broker's memory.
	Storage Storage
	// AckWait is how long a worker may stay silent about a job before
	// it goes to another. Zero means [DefaultAckWait].
	AckWait time.Duration
	// Tries is how many deliveries a job gets. Zero means [DefaultTries].
	Tries int
	// Keep is how long records and kept images live. Zero means
	// [DefaultKeep].
	Keep time.Duration
	// Replicas is how many servers of a NATS cluster hold the stream,
	// the consumer, the records and the uploads, each: with 3, a job
	// accepted survives the loss of any one server. Zero means 1.
	Replicas int
}

// ErrTooFewServers is returned by [Setup] when the replicas asked for
// are more than the servers of the cluster behind the connection.
var ErrTooFewServers = errors.New("more replicas than NATS servers")

// MaxReplicas is JetStream's bound on a stream's replicas.
const MaxReplicas = 5

// Setup makes (or updates) the stream, the consumer, the records bucket
// and the uploads bucket on the server behind nc: the front's work. It
// does not close nc.
func Setup(ctx context.Context, nc *nats.Conn, cfg SetupConfig) (*Queue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	keep, replicas := cmp.Or(cfg.Keep, DefaultKeep), max(1, cfg.Replicas)
	if replicas > 1 {
		// Once connected, the connection knows the cluster's servers
		// (the URLs given and those the cluster told of): a stream of
		// more replicas than servers would fail late and vaguely
		// ("insufficient resources").
		if _, err := js.AccountInfo(ctx); err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		if n := len(nc.Servers()); replicas > n {
			return nil, fmt.Errorf("%d replicas need %d servers; the NATS cluster has %d: %w", replicas, replicas, n, ErrTooFewServers)
		}
	}
	q := &Queue{nc: nc, js: js, ackWait: cmp.Or(cfg.AckWait, DefaultAckWait), tries: cmp.Or(cfg.Tries, DefaultTries)}
	q.stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "flipbench flip jobs waiting for a worker",
		Subjects:    []string{SubjectPrefix + "*"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     cfg.Storage.js(),
		MaxAge:      keep,
		Duplicates:  time.Minute,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamName, err)
	}
	q.cons, err = js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:     ConsumerName,
		Description: "every flipbench worker: the first free one takes the next job",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     q.ackWait,
		// Unlimited: the worker that gets a job past its tries records
		// the failure, so that the client hears of it (a delivery limit
		// would leave the job in the stream, silent).
		MaxDeliver:    -1,
		MaxAckPending: -1,
		// Metadata tells workers, on any machine, the front's settings.
		Metadata: map[string]string{"tries": fmt.Sprint(q.tries)},
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", ConsumerName, err)
	}
	q.records, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      RecordsBucket,
		Description: "flipbench job records",
		History:     1,
		TTL:         keep,
		Storage:     cfg.Storage.js(),
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", RecordsBucket, err)
	}
	q.uploads, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      UploadsBucket,
		Description: "flipbench request bodies and flipped images",
		TTL:         keep,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", UploadsBucket, err)
	}
	return q, nil
}

// ErrNoQueue means the server has no flipbench queue (yet): no front
// has set it up.
var ErrNoQueue = errors.New("no flipbench queue on this server (is a flipbench queue front running?)")

// Open binds to a queue that a front has set up: the worker's side. It
// returns an error wrapping [ErrNoQueue] when there is none.
func Open(ctx context.Context, nc *nats.Conn) (*Queue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	q := &Queue{nc: nc, js: js}
	notFound := func(err error) error {
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
			errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("%w: %w", ErrNoQueue, err)
		}
		return err
	}
	if q.stream, err = js.Stream(ctx, StreamName); err != nil {
		return nil, notFound(err)
	}
	if q.cons, err = js.Consumer(ctx, StreamName, ConsumerName); err != nil {
		return nil, notFound(err)
	}
	if q.records, err = js.KeyValue(ctx, RecordsBucket); err != nil {
		return nil, notFound(err)
	}
	if q.uploads, err = js.ObjectStore(ctx, UploadsBucket); err != nil {
		return nil, notFound(err)
	}
	info := q.cons.CachedInfo()
	q.ackWait = cmp.Or(info.Config.AckWait, DefaultAckWait)
	q.tries = DefaultTries
	if t, ok := info.Config.Metadata["tries"]; ok {
		fmt.Sscan(t, &q.tries)
	}
	return q, nil
}

// record reads a job's record; nil, 0 if it has none.
func (q *Queue) record(ctx context.Context, id string) (*JobStatus, uint64, error) {
	e, err := q.records.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("job %s: record: %w", id, err)
	}
	var st JobStatus
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return nil, 0, fmt.Errorf("job %s: record: %w", id, err)
	}
	return &st, e.Revision(), nil
}

// recordThroughElections is record, tried again through an election of
// the records' leader.
func (q *Queue) recordThroughElections(ctx context.Context, id string) (st *JobStatus, rev uint64, err error) {
	err = throughElections(ctx, func(ctx context.Context) error {
		st, rev, err = q.record(ctx, id)
		return err
	})
	return st, rev, err
}

// Status returns a job's status: its record, or queued while its message
// waits in the stream and no worker has taken it. It returns nil for a
// job that does not exist (or whose record has expired).
func (q *Queue) Status(ctx context.Context, id string) (*JobStatus, error) {
	for range 2 {
		st, _, err := q.record(ctx, id)
		if st != nil || err != nil {
			return st, err
		}
		msg, err := q.stream.GetLastMsgForSubject(ctx, SubjectPrefix+id)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			// A worker may have taken it, and acknowledged it, between
			// the two looks: look at the records once more.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", id, err)
		}
		var spec jobSpec
		if err := json.Unmarshal([]byte(msg.Header.Get(specHeader)), &spec); err != nil {
			return nil, fmt.Errorf("job %s: %w", id, err)
		}
		return &JobStatus{ID: id, State: StateQueued, Accepted: spec.Accepted}, nil
	}
	return nil, nil
}

// Depth describes the stream for /healthz and /metrics.
type Depth struct {
	// Messages is the jobs waiting in the stream, taken or not.
	Messages uint64 `json:"messages"`
	// Pending is the jobs no worker has taken yet.
	Pending uint64 `json:"pending"`
	// AckPending is the jobs taken and not yet acknowledged: running.
	AckPending int `json:"ack_pending"`
	// Waiting is the workers' pull requests waiting for a job: idle
	// worker slots.
	Waiting int `json:"waiting"`
	// Consumers is the stream's consumers (one shared by every worker).
	Consumers int `json:"consumers"`
	// Redelivered is the jobs delivered again and not yet acknowledged.
	Redelivered int `json:"redelivered"`
}

// Depth reads the stream's and the consumer's state.
func (q *Queue) Depth(ctx context.Context) (Depth, error) {
	si, err := q.stream.Info(ctx)
	if err != nil {
		return Depth{}, fmt.Errorf("stream info: %w", err)
	}
	ci, err := q.cons.Info(ctx)
	if err != nil {
		return Depth{}, fmt.Errorf("consumer info: %w", err)
	}
	return Depth{Messages: si.State.Msgs, Pending: ci.NumPending, AckPending: ci.NumAckPending,
		Waiting: ci.NumWaiting, Consumers: si.State.Consumers, Redelivered: ci.NumRedelivered}, nil
}
