package queue

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/flipbench/flipbench/httpfront"
	"github.com/flipbench/flipbench/server"
)

// submit puts a job on the stream: its body (if any) in the message or
// in the object store first. With wait, a waiter is registered before the
// job is published, so that its end cannot be missed.
func (f *Front) submit(ctx context.Context, body io.Reader, size int64, wantImage bool, accepted time.Time, wait bool) (*ticket, error) {
	t, err := f.admit(ctx, wait)
	if err != nil {
		return nil, err
	}
	spec := jobSpec{ID: t.id, Accepted: accepted, WantImage: wantImage, Quality: f.cfg.Quality, MaxPixels: f.cfg.MaxPixels}
	msg := nats.NewMsg(SubjectPrefix + t.id)
	if body != nil {
		err = f.attachBody(ctx, &spec, msg, body, size)
	} else {
		spec.Image = f.image
	}
	if err == nil {
		err = f.publish(ctx, spec, msg)
	}
	f.mu.Lock()
	f.depth.publishing--
	if err != nil {
		delete(f.waiting, t.id)
		delete(f.waiters, t.id)
		f.mu.Unlock()
		return nil, err
	}
	f.depth.published++
	f.mu.Unlock()
	f.accepted.Add(1)
	return t, nil
}

// admit takes a place in the shared queue for a new job, or fails with
// ErrStopping or ErrQueueFull. With wait, the job's end will be delivered
// to its ticket. The place is counted in f.depth until the job is
// published or given up ([Front.published]).
func (f *Front) admit(ctx context.Context, wait bool) (*ticket, error) {
	bound := cmp.Or(f.cfg.Queue, server.DefaultQueue)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.depth.stale(bound, time.Now()) {
		f.readDepth(ctx)
	}
	select {
	case <-f.stopping:
		return nil, ErrStopping
	default:
	}
	if f.depth.estimate() >= bound {
		return nil, ErrQueueFull
	}
	t := &ticket{id: nuid.Next()}
	f.waiting[t.id] = struct{}{}
	f.depth.publishing++
	if wait {
		// The channel is the ticket's: the watch may deliver the end, and
		// forget the waiter, before anyone awaits it.
		t.end = make(chan *JobStatus, 1)
		f.waiters[t.id] = t.end
	}
	return t, nil
}

// attachBody puts a request body in the job: a small body rides in the
// job's message, one publish where the object store would take five
// round trips; a large one is streamed to the object store in chunks,
// never whole in memory, once one of the front's upload places is free.
func (f *Front) attachBody(ctx context.Context, spec *jobSpec, msg *nats.Msg, body io.Reader, size int64) error {
	src := &server.TrackedReader{R: body}
	var head []byte
	if size < 0 || size <= InlineMax {
		var err error
		if head, err = readHead(src, size); err != nil {
			return fmt.Errorf("%w: %w", server.ErrReadSource, err)
		}
	}
	if size <= InlineMax && len(head) <= InlineMax {
		spec.Inline, msg.Data = true, head
		return nil
	}
	// Nothing of a large body is read before its turn: a burst of photos
	// waits in the kernel, not in the front's memory.
	spec.Upload = uploadName(spec.ID)
	select {
	case f.uploads <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-f.stopping:
		return ErrStopping
	}
	_, err := f.q.uploads.Put(ctx, jetstream.ObjectMeta{Name: spec.Upload}, io.MultiReader(bytes.NewReader(head), src))
	<-f.uploads
	switch {
	case err != nil && src.Err != nil:
		return fmt.Errorf("%w: %w", server.ErrReadSource, src.Err)
	case err != nil:
		return fmt.Errorf("upload: %w", err)
	}
	return nil
}

// publish puts the job's message on the stream, its spec in a header; a
// failed publish deletes the job's upload.
func (f *Front) publish(ctx context.Context, spec jobSpec, msg *nats.Msg) error {
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	msg.Header.Set(specHeader, string(data))
	if err := publishOnce(ctx, f.q.js, msg, spec.ID); err != nil {
		if spec.Upload != "" {
			f.q.uploads.Delete(context.WithoutCancel(ctx), spec.Upload)
		}
		return fmt.Errorf("publish job: %w", err)
	}
	return nil
}

// publishOnce publishes msg with id as its message ID, trying again
// through an election: the stream's duplicate window keeps the job once
// however many tries reached it.
func publishOnce(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, id string) error {
	return throughElections(ctx, func(ctx context.Context) error {
		_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		return err
	})
}

// ticket is a submitted job: its ID, and where its end is delivered
// (nil unless submitted with wait).
type ticket struct {
	id  string
	end chan *JobStatus
}

// await waits for the end of a job submitted with wait.
func (f *Front) await(ctx context.Context, t *ticket) (*JobStatus, error) {
	id, ch := t.id, t.end
	if ch == nil {
		return nil, fmt.Errorf("job %s: submitted without wait", id)
	}
	// A job that ended before the watch saw it would wait for ever: the
	// record is read once more after a while without news.
	check := time.NewTicker(5 * time.Second)
	defer check.Stop()
	for {
		select {
		case st := <-ch:
			return st, nil
		case <-check.C:
			if st, err := f.q.Status(ctx, id); err == nil && st != nil && st.Ended() {
				f.observe(st)
			}
		case <-ctx.Done():
			f.forget(id)
			return nil, ctx.Err()
		case <-f.stopping:
			f.forget(id)
			return nil, ErrStopping
		}
	}
}

func (f *Front) forget(id string) {
	f.mu.Lock()
	delete(f.waiters, id)
	f.mu.Unlock()
}

// retryAfter estimates, in whole seconds, when a rejected client may find
// room: the jobs waiting times the recent job time, over the jobs that
// run at once.
func (f *Front) retryAfter() int {
	f.mu.Lock()
	q, slots := f.depth.estimate(), max(len(f.running), 1)
	f.mu.Unlock()
	return httpfront.RetryAfter(q, slots, f.stats.RecentJob())
}

// readHead reads up to InlineMax+1 bytes of a body of size bytes (-1:
// unknown), in one buffer of the right size when the size is known.
func readHead(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > InlineMax {
		return io.ReadAll(io.LimitReader(r, InlineMax+1))
	}
	buf := make([]byte, size, size+1)
	n, err := io.ReadFull(r, buf)
	if err != nil {
		return buf[:n], err
	}
	return buf, nil
}
