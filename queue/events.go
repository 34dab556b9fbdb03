package queue

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
)

// handleEvents streams a job's states as Server-Sent Events, one event
// a change (event: queued, running, done or failed; data: the record as
// JSON), and ends after the last.
func (f *Front) handleEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	// Watch first, then look: a change between the two is not lost.
	watcher, err := f.q.records.Watch(ctx, id)
	if err != nil {
		f.fail(w, http.StatusInternalServerError, id, err)
		return
	}
	defer watcher.Stop()
	st, err := f.q.Status(ctx, id)
	switch {
	case err != nil:
		f.fail(w, http.StatusInternalServerError, id, err)
		return
	case st == nil:
		f.fail(w, http.StatusNotFound, id, fmt.Errorf("no job %s", id))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	last := ""
	send := func(st *JobStatus) bool {
		key := fmt.Sprintf("%s/%d", st.State, st.Tries)
		if key != last {
			last = key
			data, _ := json.Marshal(st)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", st.State, data)
			rc.Flush()
		}
		return st.Ended()
	}
	if send(st) {
		return
	}
	for {
		select {
		case e, ok := <-watcher.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var next JobStatus
			if json.Unmarshal(e.Value(), &next) == nil && send(&next) {
				return
			}
		case <-ctx.Done():
			return
		case <-f.stopping:
			return
		}
	}
}
