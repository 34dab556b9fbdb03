package queue

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watch follows the job records: it frees the front's queue places of
// jobs that workers took, and hands ended jobs to their waiters.
func (f *Front) watch(w jetstream.KeyWatcher) {
	defer close(f.watchDone)
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var st JobStatus
		if json.Unmarshal(e.Value(), &st) != nil {
			continue
		}
		f.observe(&st)
	}
}

func (f *Front) observe(st *JobStatus) {
	f.mu.Lock()
	delete(f.waiting, st.ID)
	var waiter chan *JobStatus
	if st.Ended() {
		delete(f.running, st.ID)
		waiter = f.waiters[st.ID]
		delete(f.waiters, st.ID)
	} else {
		f.running[st.ID] = struct{}{}
	}
	if st.State == StateRunning && st.Tries == 1 {
		f.depth.taken++ // a job's first take: it left the stream's undelivered count
	}
	f.mu.Unlock()
	f.seen.observe(st)
	if st.Ended() {
		f.stats.ended(st)
		if waiter != nil {
			waiter <- st // buffered: one outcome per job
		}
	}
}

// resync looks up the jobs the front counts as waiting and forgets those
// a worker took: the watch may have missed their news (a reconnection to
// the broker), and a front must not refuse every job for ever on a stale
// count. It runs at most once a second, and reports whether it freed a
// place.
func (f *Front) resync(ctx context.Context) bool {
	f.mu.Lock()
	if time.Since(f.resynced) < time.Second {
		f.mu.Unlock()
		return false
	}
	f.resynced = time.Now()
	ids := make([]string, 0, len(f.waiting))
	for id := range f.waiting {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	freed := false
	for _, id := range ids {
		st, err := f.q.Status(ctx, id)
		if err != nil {
			return freed
		}
		if st == nil || st.State != StateQueued {
			f.mu.Lock()
			if _, ok := f.waiting[id]; ok {
				delete(f.waiting, id)
				freed = true
			}
			f.mu.Unlock()
		}
	}
	return freed
}
