// Package queue is flipbench's queue mode: the article's own advice, built.
// A front answers HTTP, puts each flip job on a NATS JetStream work-queue
// stream, and workers on this machine or any other pull the next job when
// they are free, flip, and report.
//
// It owns the broker side: the embedded NATS server ([StartEmbedded]), the
// stream, the job records and the uploads ([Setup], [Open]), the front
// ([Front]: it publishes each job and answers when it is done, or at once
// with 202), the worker loop ([Worker]) and the whole
// `flipbench queue` process ([Server]: front, embedded server and
// supervised local workers).
//
// What lives where on the broker:
//
//   - the stream [StreamName] (work-queue retention) holds one message per
//     job waiting for a worker, on the subject [SubjectPrefix]+ID, deleted
//     when a worker acknowledges it; a request body of up to [InlineMax]
//     rides in it, so a small upload costs one publish; the durable pull
//     consumer
//     [ConsumerName] is shared by every worker, so the first free worker
//     takes the next job;
//   - the key-value bucket [RecordsBucket] holds each job's record
//     ([JobStatus]) once a worker has taken it: running, then done or
//     failed, written by compare-and-set so that one outcome wins;
//   - the object store [UploadsBucket] holds larger request bodies (in/ID,
//     streamed in 128 KiB chunks, on disk, never whole in memory), the
//     flipped images that a client asked for (out/ID) and the front's
//     --image file (image/SHA256). An upload is deleted when its job ends.
//
// A job is acknowledged only when its outcome is recorded: a worker that
// dies mid-job stops its progress heartbeats, the stream delivers the job
// again after the ack wait, and another worker runs it. A job delivered
// more than Tries times ends failed, with a status the client sees.
package queue
