package queue

import (
	"context"
	"time"
)

// How fresh the front's count of the stream's waiting jobs is kept: it is
// read from the broker when older than depthFresh, and, when it says the
// queue is full, again at most every depthRetry (a full queue's refusals
// must not each cost a round trip to the broker).
const (
	depthFresh = 50 * time.Millisecond
	depthRetry = 5 * time.Millisecond
	depthRead  = time.Second // bounds one read: a broker in an election is not waited for
)

// sharedDepth estimates the jobs waiting in the stream for a worker, of
// every front that shares it, without a round trip per job: the
// consumer's count of undelivered jobs when last read, plus the jobs this
// front has put on the stream since (and is putting), less the jobs a
// worker took since (their first record, which every front's watch sees).
// Jobs another front accepted since the last read are counted at the
// next, at most depthFresh later: --queue bounds the shared depth to
// within what the fronts accept in that time.
type sharedDepth struct {
	pending    int       // undelivered jobs when last read
	read       time.Time // when the last read began
	reading    bool      // a read is under way
	publishing int       // this front's admitted jobs not yet on the stream
	published  int       // this front's jobs put on the stream since read began
	taken      int       // first takes seen since read began
}

func (d *sharedDepth) estimate() int {
	return max(0, d.pending+d.publishing+d.published-d.taken)
}

// stale reports whether the count should be read again before a job is
// admitted against bound.
func (d *sharedDepth) stale(bound int, now time.Time) bool {
	if d.reading {
		return false
	}
	age := now.Sub(d.read)
	return age > depthFresh || (d.estimate() >= bound && age > depthRetry)
}

// readDepth reads the consumer's count of undelivered jobs. The caller
// holds f.mu; readDepth releases it for the round trip and holds it again
// when it returns. A failed read keeps the estimate until the next.
func (f *Front) readDepth(ctx context.Context) {
	d := &f.depth
	d.reading, d.read = true, time.Now()
	published, taken := d.published, d.taken
	f.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, depthRead)
	info, err := f.q.cons.Info(rctx)
	cancel()
	f.mu.Lock()
	d.reading = false
	if err != nil {
		return
	}
	// What was published or taken before the read began is in its count.
	d.pending, d.published, d.taken = int(info.NumPending), d.published-published, d.taken-taken
	if d.pending < len(f.waiting)-d.publishing {
		// Fewer jobs wait anywhere than this front counts as its own:
		// the watch missed some news (a reconnection).
		go f.resync(context.WithoutCancel(ctx))
	}
}
