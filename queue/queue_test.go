package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/internal/cputime"
	"github.com/flipbench/flipbench/server"
)

// newTestQueue starts an embedded server on a free loopback port and sets
// the queue up on it; cleanup shuts it down.
func newTestQueue(t testing.TB, cfg SetupConfig) (*Queue, string) {
	return newTestQueueVia(t, cfg, false)
}

// newTestQueueVia is newTestQueue, connected in process (as a front is
// to its embedded server) or over the loopback.
func newTestQueueVia(t testing.TB, cfg SetupConfig, inProcess bool) (*Queue, string) {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	var opts []nats.Option
	if inProcess {
		opts = append(opts, e.InProcess())
	}
	nc, err := broker.Connect(e.URL(), "test", broker.Auth{}, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := Setup(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q, e.URL()
}

// startTestWorker runs a Worker in this process until the test ends.
func startTestWorker(t testing.TB, url, name string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	w := &Worker{URL: url, Name: name, Slots: 1, TmpDir: t.TempDir(), Ready: func() { close(ready) }}
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker stopped before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("worker not ready in 10s")
	}
}

func newTestFront(t testing.TB, q *Queue, cfg FrontConfig) *Front {
	t.Helper()
	f, err := NewFront(context.Background(), q, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// TestFrontFlipsThroughTheQueue: a wait-mode front runs a POST /flip
// through the queue as a cluster's worker runs it in process, the
// flipped image included (and deleted from the store once sent); bad
// input comes back with its 4xx, as a JSON error naming the job.
func TestFrontFlipsThroughTheQueue(t *testing.T) {
	q, url := newTestQueue(t, SetupConfig{})
	startTestWorker(t, url, "w")
	f := newTestFront(t, q, FrontConfig{Image: server.FixturePrefix + fixtures.SmallJPEG})
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	src, err := fixtures.Bytes(fixtures.SmallJPEG)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/flip?return=image", "image/jpeg", bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || img.Bounds().Dx() != 384 || img.Bounds().Dy() != 256 {
		t.Fatalf("POST /flip?return=image: %d, %v; want 200 and a 384x256 jpeg", resp.StatusCode, err)
	}
	id := resp.Header.Get("X-Job-Id")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The front deletes it once the answer is written: the client may
	// have read it all a moment before.
	for {
		_, err := q.uploads.GetInfo(ctx, outputName(id))
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the flipped image of job %q left in the store once sent: %v", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err = http.Post(srv.URL+"/flip", "image/jpeg", bytes.NewReader([]byte("no image here")))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error string `json:"error"`
		Job   string `json:"job"`
	}
	err = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || err != nil || e.Job == "" || !strings.Contains(e.Error, "unsupported image format") {
		t.Errorf("bad input: %d %+v (%v), want 415 with the job and why", resp.StatusCode, e, err)
	}
}

// TestGivesUpAfterTries: a job whose deliveries all went to workers that
// died (here: pulled and never acknowledged) ends failed with 500 on the
// next worker, and the waiting client hears of it.
func TestGivesUpAfterTries(t *testing.T) {
	q, url := newTestQueue(t, SetupConfig{AckWait: 200 * time.Millisecond, Tries: 2})
	f := newTestFront(t, q, FrontConfig{Image: server.FixturePrefix + fixtures.SmallJPEG})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tk, err := f.submit(ctx, nil, 0, false, time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	for try := 1; try <= 2; try++ { // two workers die with it
		msg, err := q.cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
		if meta, _ := msg.Metadata(); meta.NumDelivered != uint64(try) {
			t.Fatalf("delivery %d, want %d", meta.NumDelivered, try)
		}
	}
	startTestWorker(t, url, "survivor")
	st, err := f.await(ctx, tk)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateFailed || st.Status != 500 || st.Tries != 3 {
		t.Errorf("job: %s, status %d after %d tries (%s); want failed, 500 after 3", st.State, st.Status, st.Tries, st.Error)
	}
}

// TestQueueFullAnswers503: past its bound the front refuses a job with
// 503 and Retry-After, before reading the body.
func TestQueueFullAnswers503(t *testing.T) {
	q, _ := newTestQueue(t, SetupConfig{})
	f := newTestFront(t, q, FrontConfig{Reply: ReplyAsync, Queue: 1, Image: server.FixturePrefix + fixtures.SmallJPEG})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	var codes []int
	for range 2 {
		resp, err := http.Post(srv.URL+"/flip", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	if codes[0] != 202 || codes[1] != 503 {
		t.Errorf("codes %v, want 202 then 503", codes)
	}
}

// BenchmarkAcceptAsync is the front's cost to accept a job with a small
// body (inline in the job's message), many at once, connected to its
// embedded server in process (as flipbench queue is) and, to compare,
// over the loopback (as to an external server).
func BenchmarkAcceptAsync(b *testing.B) {
	for _, via := range []string{"inprocess", "tcp"} {
		b.Run(via, func(b *testing.B) { benchmarkAcceptAsync(b, via == "inprocess", true) })
	}
	// No body: the job names the front's image, and its message is the
	// spec alone. The difference is what a 29 KB body costs.
	b.Run("inprocess-nobody", func(b *testing.B) { benchmarkAcceptAsync(b, true, false) })
}

func benchmarkAcceptAsync(b *testing.B, inProcess, withBody bool) {
	q, _ := newTestQueueVia(b, SetupConfig{}, inProcess)
	f := newTestFront(b, q, FrontConfig{Reply: ReplyAsync, Queue: 1 << 30, Image: server.FixturePrefix + fixtures.SmallJPEG})
	body, _ := fixtures.Bytes(fixtures.SmallJPEG)
	if !withBody {
		body = nil
	}
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := cputime.Self()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range b.N {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var r io.Reader
			if body != nil {
				r = bytes.NewReader(body)
			}
			if _, err := f.submit(ctx, r, int64(len(body)), false, time.Now(), false); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	// The process's CPU, the front's and its embedded broker's, as a
	// flipbench queue process spends it (over the loopback, the socket's
	// reads and writes on both sides too).
	b.ReportMetric(float64(cputime.Self()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
}

// TestOneOutcomeWins: of two workers that finish the same job (the first
// was thought dead, and the job went to the second), the first outcome
// is recorded and the second is dropped, whatever each believed the
// record was.
func TestOneOutcomeWins(t *testing.T) {
	q, _ := newTestQueue(t, SetupConfig{})
	ctx := context.Background()
	outcome := func(worker string) func(*JobStatus) (*JobStatus, bool) {
		return func(cur *JobStatus) (*JobStatus, bool) {
			if cur != nil && cur.Ended() {
				return nil, false
			}
			return &JobStatus{ID: "j", State: StateDone, Status: 200, Worker: worker}, true
		}
	}
	running := &JobStatus{ID: "j", State: StateRunning, Worker: "a"}
	rev, err := q.write(ctx, "j", &guess{}, func(*JobStatus) (*JobStatus, bool) { return running, true })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.write(ctx, "j", &guess{cur: running, rev: rev}, outcome("b")); err != nil {
		t.Fatalf("first outcome: %v", err)
	}
	if _, err := q.write(ctx, "j", &guess{cur: running, rev: rev}, outcome("a")); !errors.Is(err, errSkip) {
		t.Errorf("second outcome: %v, want errSkip", err)
	}
	if st, err := q.Status(ctx, "j"); err != nil || st.Worker != "b" || st.State != StateDone {
		t.Errorf("record %+v (%v), want done by b", st, err)
	}
}

// TestFrontsShareTheQueueBound: the bound on waiting jobs is the
// stream's, every front's: with no worker, three jobs accepted by one
// front fill a bound of three for the other as well, and a worker that
// takes them frees places for both.
func TestFrontsShareTheQueueBound(t *testing.T) {
	q, url := newTestQueue(t, SetupConfig{})
	cfg := FrontConfig{Reply: ReplyAsync, Queue: 3, Image: server.FixturePrefix + fixtures.SmallJPEG}
	a, b := newTestFront(t, q, cfg), newTestFront(t, q, cfg)
	submit := func(f *Front) error {
		_, err := f.submit(context.Background(), nil, 0, false, time.Now(), false)
		return err
	}
	for i := range 3 {
		if err := submit(a); err != nil {
			t.Fatalf("job %d on front a: %v", i+1, err)
		}
	}
	// The consumer counts a new job a moment after the stream acknowledges
	// it: a front reads what the broker says.
	deadline := time.Now().Add(5 * time.Second)
	for d, err := q.Depth(context.Background()); err != nil || d.Pending < 3; d, err = q.Depth(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatalf("the consumer counts %d jobs pending (%v), want 3", d.Pending, err)
		}
		time.Sleep(time.Millisecond)
	}
	if err := submit(b); !errors.Is(err, ErrQueueFull) {
		t.Errorf("front b, three jobs waiting: %v, want ErrQueueFull", err)
	}
	if err := submit(a); !errors.Is(err, ErrQueueFull) {
		t.Errorf("front a, three jobs waiting: %v, want ErrQueueFull", err)
	}
	startTestWorker(t, url, "w")
	for _, f := range []*Front{b, a} {
		deadline := time.Now().Add(10 * time.Second)
		for err := submit(f); err != nil; err = submit(f) {
			if !errors.Is(err, ErrQueueFull) || time.Now().After(deadline) {
				t.Fatalf("after a worker took the jobs: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestInlineBodiesArriveWhole: bodies that ride in their jobs' messages,
// many at once, arrive in the stream as sent, each its own (a front that
// reused a body's buffer too early, tried once, fails it).
func TestInlineBodiesArriveWhole(t *testing.T) {
	q, _ := newTestQueueVia(t, SetupConfig{}, true)
	f := newTestFront(t, q, FrontConfig{Reply: ReplyAsync, Queue: 1000, Image: server.FixturePrefix + fixtures.SmallJPEG})
	sent := make([][]byte, 200)
	ids := make([]string, len(sent))
	var wg sync.WaitGroup
	for i := range sent {
		sent[i] = bytes.Repeat([]byte{byte(i)}, 1000+37*i)
		wg.Go(func() {
			tk, err := f.submit(context.Background(), bytes.NewReader(sent[i]), int64(len(sent[i])), false, time.Now(), false)
			if err != nil {
				t.Errorf("job %d: %v", i, err)
				return
			}
			ids[i] = tk.id
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id == "" {
			continue
		}
		msg, err := q.stream.GetLastMsgForSubject(context.Background(), SubjectPrefix+id)
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		if !bytes.Equal(msg.Data, sent[i]) {
			t.Errorf("job %d: %d bytes in the stream, not the %d sent", i, len(msg.Data), len(sent[i]))
		}
	}
}

// TestStaleQueueCountHeals: a front whose count of waiting jobs is wrong
// (it missed news of jobs taken) does not keep refusing jobs: its count is
// read again from the broker once stale, and the bound holds on the real
// count.
func TestStaleQueueCountHeals(t *testing.T) {
	q, _ := newTestQueue(t, SetupConfig{})
	f := newTestFront(t, q, FrontConfig{Reply: ReplyAsync, Queue: 1, Image: server.FixturePrefix + fixtures.SmallJPEG})
	f.mu.Lock()
	f.depth.published, f.depth.read = 5, time.Now().Add(-time.Second) // five waiting, it believes
	f.mu.Unlock()
	if _, err := f.submit(context.Background(), nil, 0, false, time.Now(), false); err != nil {
		t.Errorf("submit past a stale count: %v, want it accepted", err)
	}
	if _, err := f.submit(context.Background(), nil, 0, false, time.Now(), false); !errors.Is(err, ErrQueueFull) {
		t.Errorf("submit past a real count: %v, want ErrQueueFull", err)
	}
}
