//go:build linux

// End-to-end tests of queue mode: a real `flipbench queue` front with its
// embedded NATS server, real `flipbench worker` processes connecting to
// it over TCP, real kills.
package main_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/queue"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

// queueProc is a running `flipbench queue` and its broker's URL.
type queueProc struct {
	*serverProc
	nats string
}

// startQueue starts `flipbench queue` with args (and port 0 for HTTP and
// NATS), reads both announced addresses, and waits until the stream has
// at least `idle` idle worker slots. Cleanup stops it with SIGTERM and
// checks exit 0 and that no worker is left.
func startQueue(t *testing.T, idle int, args ...string) *queueProc {
	t.Helper()
	return startQueueWith(t, idle, append([]string{"--nats-addr", "127.0.0.1:0"}, args...)...)
}

// startQueueWith is startQueue without the embedded broker's port: for
// a front on other NATS servers (--nats).
func startQueueWith(t *testing.T, idle int, args ...string) *queueProc {
	t.Helper()
	args = append([]string{"queue", "--addr", "127.0.0.1:0"}, args...)
	p, lines := startProc(t, nil, args...)
	q := &queueProc{serverProc: p}
	for q.url == "" || q.nats == "" {
		select {
		case line := <-lines:
			if u, ok := strings.CutPrefix(line, "listening on "); ok {
				q.url = u
			} else if u, ok := strings.CutPrefix(line, "nats listening on "); ok {
				q.nats = u
			} else {
				t.Fatalf("stdout line %q, want 'listening on URL' or 'nats listening on URL'", line)
			}
		case <-p.done:
			t.Fatalf("queue exited early (%v): %s", p.err, p.stderr)
		case <-time.After(20 * time.Second):
			t.Fatalf("no 'listening on' lines in 20s: %s", p.stderr)
		}
	}
	q.waitIdle(t, idle)
	return q
}

// queueHealth is the part of the front's /healthz the tests read.
type queueHealth struct {
	PID     int    `json:"pid"`
	Mode    string `json:"mode"`
	Workers []struct {
		PID   int    `json:"pid"`
		State string `json:"state"`
	} `json:"workers"`
	Stream *struct {
		Messages    int `json:"messages"`
		Pending     int `json:"pending"`
		Waiting     int `json:"waiting"`
		Consumers   int `json:"consumers"`
		Redelivered int `json:"redelivered"`
	} `json:"stream"`
	Queue    int `json:"queue"`
	Rejected int `json:"rejected"`
	Accepted int `json:"accepted"`
	Done     int `json:"done"`
	Failed   int `json:"failed"`
}

func (q *queueProc) health(t *testing.T) queueHealth {
	t.Helper()
	var h queueHealth
	resp, err := client.Get(q.url + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("healthz: %v", err)
	}
	return h
}

// waitIdle waits until n worker slots pull from the stream.
func (q *queueProc) waitIdle(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d idle worker slots on the stream", n), func() bool {
		h := q.health(t)
		return h.Stream != nil && h.Stream.Waiting >= n
	})
}

// workerProc is a running `flipbench worker --nats URL`.
type workerProc struct {
	cmd    *exec.Cmd
	stderr *lineBuffer
	done   chan struct{}
	err    error
}

// startWorker starts a worker against natsURL; cleanup sends SIGTERM and
// checks exit 0 (unless the test killed it).
func startWorker(t *testing.T, natsURL, name string, args ...string) *workerProc {
	t.Helper()
	w := &workerProc{cmd: exec.Command(bin, append([]string{"worker", "--nats", natsURL, "--name", name}, args...)...),
		stderr: newLineBuffer(), done: make(chan struct{})}
	w.cmd.Stderr = w.stderr
	w.cmd.WaitDelay = 5 * time.Second
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		w.err = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		w.cmd.Process.Signal(syscall.SIGTERM)
		quit := false
		select {
		case <-w.done:
		case <-time.After(20 * time.Second):
			// SIGQUIT: the Go runtime prints every goroutine's stack,
			// where it hangs, before it exits (status 2).
			quit = true
			w.cmd.Process.Signal(syscall.SIGQUIT)
			<-w.done
			t.Errorf("worker %s did not exit within 20s of SIGTERM:\n%s", name, w.stderr)
		}
		if w.err != nil && !quit && !strings.Contains(w.err.Error(), "killed") {
			t.Errorf("worker %s: %v\n%s", name, w.err, w.stderr)
		}
	})
	return w
}

func (w *workerProc) pid() int { return w.cmd.Process.Pid }

var queueJobRE = regexp.MustCompile(`msg="job (start|end)" worker=(\S+) pid=(\d+) job=(\S+)`)

// jobEvents counts "job start" or "job end" log lines by job ID in logs.
func jobEvents(event string, logs ...string) map[string]int {
	n := map[string]int{}
	for _, l := range logs {
		for _, m := range queueJobRE.FindAllStringSubmatch(l, -1) {
			if m[1] == event {
				n[m[4]]++
			}
		}
	}
	return n
}

// jobStatus gets /jobs/ID.
func jobStatus(t *testing.T, url, id string) queue.JobStatus {
	t.Helper()
	resp, err := client.Get(url + "/jobs/" + id)
	if err != nil {
		t.Fatalf("GET /jobs/%s: %v", id, err)
	}
	defer resp.Body.Close()
	var st queue.JobStatus
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /jobs/%s: %s: %s", id, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// postAsync sends POST /flip to an async front and returns the job ID.
func postAsync(t *testing.T, url string, body []byte) string {
	t.Helper()
	resp, err := client.Post(url+"/flip", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var acc queue.Accepted
	json.NewDecoder(resp.Body).Decode(&acc)
	if resp.StatusCode != http.StatusAccepted || acc.ID == "" || resp.Header.Get("Location") != "/jobs/"+acc.ID {
		t.Fatalf("POST /flip: %s, Location %q, id %q; want 202 with Location /jobs/ID", resp.Status, resp.Header.Get("Location"), acc.ID)
	}
	return acc.ID
}

// uploadsLeft lists the objects left in the uploads bucket whose name
// starts with prefix.
func uploadsLeft(t *testing.T, natsURL, prefix string) []string {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obs, err := js.ObjectStore(ctx, queue.UploadsBucket)
	if err != nil {
		t.Fatal(err)
	}
	list, err := obs.List(ctx)
	if err != nil && err != jetstream.ErrNoObjectsFound {
		t.Fatal(err)
	}
	var left []string
	for _, o := range list {
		if strings.HasPrefix(o.Name, prefix) {
			left = append(left, o.Name)
		}
	}
	return left
}

// TestQueueTwoWorkersOverTCPServeABurst: a front with the embedded server
// and two `flipbench worker --nats` processes serve bursts of 10 uploads;
// both workers take jobs, every answer names one of them, and no upload
// is left in the object store.
func TestQueueTwoWorkersOverTCPServeABurst(t *testing.T) {
	t.Parallel()
	q := startQueue(t, 0, "--workers", "0", "--image", "fixture:"+fixtures.SmallJPEG)
	tmp := t.TempDir()
	w1 := startWorker(t, q.nats, "w1", "--tmp-dir", tmp)
	w2 := startWorker(t, q.nats, "w2", "--tmp-dir", tmp)
	q.waitIdle(t, 2)
	body := mustFixture(t, fixtures.SmallPNG)
	pids := untilBothServe(t, q.url, 10, body, func(r dispatchResult) {
		if !strings.HasSuffix(r.queueTime, "ms") {
			t.Errorf("X-Queue-Time = %q, want a time in ms", r.queueTime)
		}
	})
	for pid := range pids {
		if pid != w1.pid() && pid != w2.pid() {
			t.Errorf("X-Worker-Pid %d is neither worker (%d, %d)", pid, w1.pid(), w2.pid())
		}
	}
	if len(pids) != 2 {
		t.Errorf("jobs per worker pid %v, want both workers", pids)
	}
	// A body over queue.InlineMax goes through the object store; the
	// flipped image comes back whole.
	big := noisePNG(t, 400, 300)
	if len(big) <= queue.InlineMax {
		t.Fatalf("test image of %d bytes, want over %d", len(big), queue.InlineMax)
	}
	for _, r := range postAllDispatch(q.url, 4, big) {
		if r.err != nil || r.status != 200 {
			t.Fatalf("POST /flip of %d bytes: status %d, err %v", len(big), r.status, r.err)
		}
	}
	resp, err := client.Post(q.url+"/flip?return=image", "image/png", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || img.Bounds().Dx() != 400 || img.Bounds().Dy() != 300 {
		t.Errorf("?return=image: %v, want a 400x300 PNG", err)
	}
	if left := uploadsLeft(t, q.nats, ""); len(left) > 0 {
		t.Errorf("uploads and images left after their jobs: %v", left)
	}
	for id, n := range jobEvents("end", w1.stderr.String(), w2.stderr.String()) {
		if n != 1 {
			t.Errorf("job %s ended %d times", id, n)
		}
	}
}

// noisePNG draws a w x h PNG of random pixels, which do not compress.
func noisePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitJobStart waits until one of the workers logs the start of a job
// and returns its index.
func waitJobStart(t *testing.T, logs ...*lineBuffer) int {
	t.Helper()
	who := -1
	waitFor(t, 30*time.Second, "a worker to start the job", func() bool {
		for i, l := range logs {
			if len(jobEvents("start", l.String())) > 0 {
				who = i
				return true
			}
		}
		return false
	})
	return who
}

// TestQueueWorkerKilledMidJob: kill -9 of the worker running a job (the
// 20 MP photo, a second or more) and the job completes on the other one:
// the waiting client gets its 200 (wait), the job reaches done (async),
// with the job started twice and ended once.
func TestQueueWorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	for _, reply := range []string{"wait", "async"} {
		t.Run(reply, func(t *testing.T) {
			q := startQueue(t, 0, "--workers", "0", "--reply", reply, "--ack-wait", "2s")
			tmp := t.TempDir()
			ws := []*workerProc{startWorker(t, q.nats, "a", "--tmp-dir", tmp), startWorker(t, q.nats, "b", "--tmp-dir", tmp)}
			q.waitIdle(t, 2)
			var id string
			var res <-chan []dispatchResult
			if reply == "async" {
				id = postAsync(t, q.url, nil)
			} else {
				res = postInBackground(q.url, 1, nil)
			}
			victim := waitJobStart(t, ws[0].stderr, ws[1].stderr)
			survivor := ws[1-victim]
			if err := syscall.Kill(ws[victim].pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if reply == "wait" {
				r := (<-res)[0]
				if r.err != nil || r.status != 200 {
					t.Fatalf("POST /flip after its worker was killed: status %d, err %v", r.status, r.err)
				}
				if r.pid != survivor.pid() {
					t.Errorf("X-Worker-Pid %d, want the surviving worker %d", r.pid, survivor.pid())
				}
				id = jobIDs(survivor.stderr.String())[0]
			} else {
				waitFor(t, 60*time.Second, "the job to be done", func() bool { return jobStatus(t, q.url, id).Ended() })
			}
			st := jobStatus(t, q.url, id)
			if st.State != queue.StateDone || st.PID != survivor.pid() || st.Tries != 2 {
				t.Errorf("job %s: state %s by pid %d after %d tries; want done by %d after 2", id, st.State, st.PID, st.Tries, survivor.pid())
			}
			// The worker logs the job's end just after recording it, and
			// the front may answer first.
			waitFor(t, 5*time.Second, "the job's end in the logs", func() bool {
				return jobEvents("end", survivor.stderr.String())[id] > 0
			})
			logs := []string{ws[0].stderr.String(), ws[1].stderr.String()}
			if starts, ends := jobEvents("start", logs...)[id], jobEvents("end", logs...)[id]; starts != 2 || ends != 1 {
				t.Errorf("job %s started %d times and ended %d times; want 2 and 1", id, starts, ends)
			}
			// The killed worker's job files stay until the next worker
			// on the machine starts and removes them.
			dead := filepath.Join(tmp, fmt.Sprintf("flipbench-queue-worker-p%d-*", ws[victim].pid()))
			if left, _ := filepath.Glob(dead); len(left) != 1 {
				t.Errorf("killed worker's temp dirs %v, want one", left)
			}
			startWorker(t, q.nats, "c", "--tmp-dir", tmp)
			waitFor(t, 10*time.Second, "the next worker to remove the dead one's temp dir", func() bool {
				left, _ := filepath.Glob(dead)
				return len(left) == 0
			})
		})
	}
}

func jobIDs(log string) []string {
	var ids []string
	for _, m := range queueJobRE.FindAllStringSubmatch(log, -1) {
		ids = append(ids, m[4])
	}
	return ids
}

// TestQueueJobFailsAfterItsTries: with --tries 1, a job whose worker is
// killed mid-job is not run again: the next worker records it failed,
// and the waiting client gets a 500 that says why.
func TestQueueJobFailsAfterItsTries(t *testing.T) {
	t.Parallel()
	q := startQueue(t, 0, "--workers", "0", "--tries", "1", "--ack-wait", "1s")
	tmp := t.TempDir()
	w := startWorker(t, q.nats, "doomed", "--tmp-dir", tmp)
	q.waitIdle(t, 1)
	res := postInBackground(q.url, 1, nil)
	waitJobStart(t, w.stderr)
	syscall.Kill(w.pid(), syscall.SIGKILL)
	startWorker(t, q.nats, "next", "--tmp-dir", tmp)
	r := (<-res)[0]
	if r.err != nil || r.status != 500 {
		t.Fatalf("POST /flip whose only try died: status %d, err %v; want 500", r.status, r.err)
	}
	h := q.health(t)
	if h.Failed != 1 || h.Done != 0 {
		t.Errorf("health: %d failed, %d done; want 1 and 0", h.Failed, h.Done)
	}
}

// TestQueueStoreSurvivesFrontKill: jobs accepted with 202 by a front with
// --store and no workers survive a kill -9 of the front, and complete
// after it restarts on the same store with workers.
func TestQueueStoreSurvivesFrontKill(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	q := startQueue(t, 0, "--workers", "0", "--reply", "async", "--store", store)
	body := mustFixture(t, fixtures.SmallJPEG)
	var ids []string
	for range 5 {
		ids = append(ids, postAsync(t, q.url, body))
	}
	for _, id := range ids {
		if st := jobStatus(t, q.url, id); st.State != queue.StateQueued {
			t.Errorf("job %s is %s before any worker, want queued", id, st.State)
		}
	}
	q.cmd.Process.Kill()
	<-q.done
	q.cmd.Process = nil // nothing left for its cleanup to stop

	q2 := startQueue(t, 2, "--workers", "2", "--reply", "async", "--store", store)
	for _, id := range ids {
		waitFor(t, 30*time.Second, "job "+id+" to end", func() bool { return jobStatus(t, q2.url, id).Ended() })
		if st := jobStatus(t, q2.url, id); st.State != queue.StateDone || st.Result == nil || st.Result.Width != 384 {
			t.Errorf("job %s after the restart: %+v, want done, 384 wide", id, st)
		}
	}
	if left := uploadsLeft(t, q2.nats, "in/"); len(left) > 0 {
		t.Errorf("uploads left after their jobs: %v", left)
	}
}

// burst fires n requests at once, each on a connection of its own, and
// returns their latencies, sorted, and their responses' X-Response-Time
// in ms, sorted; check sees each response.
func burst(t *testing.T, n int, send func() (*http.Response, error), check func(i int, resp *http.Response)) ([]time.Duration, []float64) {
	t.Helper()
	took := make([]time.Duration, n)
	handler := make([]float64, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			resp, err := send()
			took[i] = time.Since(t0)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			fmt.Sscanf(resp.Header.Get("X-Response-Time"), "%fms", &handler[i])
			check(i, resp)
			io.Copy(io.Discard, resp.Body)
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(took)
	slices.Sort(handler)
	return took, handler
}

func p99[T any](s []T) T { return s[len(s)*99/100-1] }

// TestQueueAsyncBurstOf500: an async front answers a burst of 500
// uploads with 202 before their jobs are done (when the last 202 has
// come, jobs are still waiting), and every job completes; the events of
// a job end with "done". The log compares the 202s with the same burst
// of GET / (no work at all) at the same moment; the times are measured,
// not asserted (scripts/asyncburst measures them side by side).
func TestQueueAsyncBurstOf500(t *testing.T) {
	q := startQueue(t, 2, "--workers", "2", "--reply", "async", "--queue", "1000", "--image", "fixture:"+fixtures.SmallJPEG)
	floor, _ := burst(t, 500, func() (*http.Response, error) { return client.Get(q.url + "/") }, func(int, *http.Response) {})
	body := mustFixture(t, fixtures.SmallJPEG)
	ids := make([]string, 500)
	took, handler := burst(t, 500, func() (*http.Response, error) {
		return client.Post(q.url+"/flip", "image/jpeg", bytes.NewReader(body))
	}, func(i int, resp *http.Response) {
		var acc queue.Accepted
		json.NewDecoder(resp.Body).Decode(&acc)
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("POST %d: %s, want 202", i, resp.Status)
		}
		ids[i] = acc.ID
	})
	if t.Failed() {
		return
	}
	t.Logf("202 to a burst of 500 uploads: p50 %s, p99 %s, max %s; X-Response-Time p50 %.1fms, p99 %.1fms; GET / burst p99 %s",
		took[250].Round(time.Millisecond), p99(took).Round(time.Millisecond), took[499].Round(time.Millisecond),
		handler[250], p99(handler), p99(floor).Round(time.Millisecond))
	if h := q.health(t); h.Done+h.Failed >= 500 {
		t.Errorf("every job had ended when the last 202 came (%d done): the front waited for the jobs", h.Done)
	}
	events := readEvents(t, q.url, ids[499])
	waitFor(t, 120*time.Second, "every job to end", func() bool {
		h := q.health(t)
		return h.Done+h.Failed >= 500
	})
	if h := q.health(t); h.Done != 500 || h.Failed != 0 {
		t.Errorf("%d done, %d failed; want 500 done", h.Done, h.Failed)
	}
	if got := <-events; len(got) == 0 || got[len(got)-1] != "done" {
		t.Errorf("events of job %s: %v, want them to end with done", ids[499], got)
	}
}

// readEvents follows /jobs/ID/events and delivers the event names once
// the stream ends.
func readEvents(t *testing.T, url, id string) <-chan []string {
	t.Helper()
	resp, err := client.Get(url + "/jobs/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %s, %s; want 200 text/event-stream", resp.Status, ct)
	}
	out := make(chan []string, 1)
	go func() {
		defer resp.Body.Close()
		var names []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				names = append(names, name)
			}
		}
		out <- names
	}()
	return out
}

// TestQueueOverloadAndBadInput: past --queue waiting jobs a POST gets 503
// with Retry-After; /healthz and /metrics show the stream's depth; an
// unknown format gets 415 in wait mode.
func TestQueueOverloadAndBadInput(t *testing.T) {
	t.Parallel()
	q := startQueue(t, 0, "--workers", "0", "--reply", "async", "--queue", "2", "--image", "fixture:"+fixtures.SmallJPEG)
	postAsync(t, q.url, nil)
	postAsync(t, q.url, nil)
	r := postDispatch(client, q.url, nil)
	if r.status != 503 || r.retryAfter == "" {
		t.Errorf("third POST past --queue 2: status %d, Retry-After %q; want 503 with Retry-After", r.status, r.retryAfter)
	}
	h := q.health(t)
	if h.Stream == nil || h.Stream.Messages != 2 || h.Queue != 2 || h.Rejected != 1 || h.Stream.Consumers != 1 {
		t.Errorf("health: %+v, stream %+v; want 2 messages, 2 queued, 1 rejected, 1 consumer", h, h.Stream)
	}
	resp, err := client.Get(q.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"flipbench_stream_messages 2", "flipbench_queue_length 2", "flipbench_rejected_total 1", "flipbench_stream_redelivered 0"} {
		if !bytes.Contains(metrics, []byte(want+"\n")) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	w := startQueue(t, 1, "--workers", "1", "--image", "fixture:"+fixtures.SmallJPEG)
	r = postDispatch(client, w.url, []byte("not an image at all"))
	if r.status != http.StatusUnsupportedMediaType {
		t.Errorf("POST of a non-image: %d, want 415", r.status)
	}
	r = postDispatch(client, w.url, nil)
	if r.status != 200 || r.pid == w.pid() || r.pid == 0 {
		t.Errorf("POST: status %d from pid %d; want 200 from the worker, not the front (%d)", r.status, r.pid, w.pid())
	}
}

// TestQueueLocalWorkerRestarted: a local worker killed with SIGKILL is
// started again by the front, and /healthz counts the restart.
func TestQueueLocalWorkerRestarted(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	q := startQueue(t, 2, "--workers", "2", "--tmp-dir", tmp, "--image", "fixture:"+fixtures.SmallJPEG)
	before := children(q.pid())
	if len(before) != 2 {
		t.Fatalf("front's children %v, want 2 workers", before)
	}
	syscall.Kill(before[0], syscall.SIGKILL)
	waitFor(t, 10*time.Second, "a new local worker", func() bool {
		now := children(q.pid())
		return len(now) == 2 && !slices.Contains(now, before[0])
	})
	q.waitIdle(t, 2)
	if r := postDispatch(client, q.url, nil); r.status != 200 {
		t.Errorf("POST after a restart: %d", r.status)
	}
}

// TestQueueRollingRestartOnSIGHUP: SIGHUP replaces the front's local
// workers one at a time, as a cluster's: the new ones pull jobs, and the
// jobs posted during the roll are all answered.
func TestQueueRollingRestartOnSIGHUP(t *testing.T) {
	t.Parallel()
	q := startQueue(t, 2, "--workers", "2", "--image", "fixture:"+fixtures.SmallJPEG)
	old := children(q.pid())
	if len(old) != 2 {
		t.Fatalf("front's children %v, want 2 workers", old)
	}
	results := make(chan []dispatchResult, 1)
	go func() { results <- postAllDispatch(q.url, 6, nil) }()
	if err := q.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for _, r := range <-results {
		if r.err != nil || r.status != 200 {
			t.Errorf("POST /flip during the roll: status %d, err %v; want 200", r.status, r.err)
		}
	}
	waitFor(t, 30*time.Second, "the rolling restart to finish", func() bool {
		return strings.Contains(q.stderr.String(), "rolling restart done")
	})
	now := children(q.pid())
	if len(now) != 2 || slices.Contains(now, old[0]) || slices.Contains(now, old[1]) {
		t.Errorf("workers after SIGHUP %v, want 2 new ones (old: %v)", now, old)
	}
	q.waitIdle(t, 2)
	if r := postDispatch(client, q.url, nil); r.status != 200 || !slices.Contains(now, r.pid) {
		t.Errorf("after the roll: status %d from pid %d; want 200 from a new worker %v", r.status, r.pid, now)
	}
}

// TestQueueCLIErrors: bad usage exits 2 with one line (and a hint).
func TestQueueCLIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"worker without --nats", []string{"worker"}, "flipbench: --nats is required: the URL of the queue's NATS server (see 'flipbench worker --help')\nTry: flipbench worker --nats nats://127.0.0.1:4222\n"},
		{"open broker", []string{"queue", "--nats-addr", "0.0.0.0:0"}, "flipbench: --nats-addr 0.0.0.0:0 is off the loopback: set --nats-token"},
		{"store with --nats", []string{"queue", "--nats", "nats://127.0.0.1:1", "--store", "x"}, "flipbench: --store is for the embedded NATS server"},
		{"bad reply", []string{"queue", "--reply", "later"}, `flipbench: invalid argument "later" for "--reply" flag`},
		{"zero ack wait", []string{"queue", "--ack-wait", "0s"}, "flipbench: --ack-wait must be > 0"},
		{"launched queue by hand", []string{"supervise-queue"}, "flipbench: not a launched server"},
		{"tls cert without key", []string{"queue", "--nats-tls-cert", "/etc/hostname"}, "flipbench: --nats-tls-cert and --nats-tls-key go together"},
		{"tls with --nats", []string{"queue", "--nats", "nats://127.0.0.1:1", "--nats-tls-cert", "/etc/hostname", "--nats-tls-key", "/etc/hostname"}, "flipbench: --nats-tls-cert is for the embedded NATS server"},
		{"missing cacert", []string{"queue", "--nats-cacert", "/nonexistent/ca.pem"}, "flipbench: --nats-cacert: open /nonexistent/ca.pem"},
		{"worker missing cacert", []string{"worker", "--nats", "tls://127.0.0.1:1", "--nats-cacert", "/nonexistent/ca.pem"}, "flipbench: --nats-cacert: open /nonexistent/ca.pem"},
		{"bad worker nice", []string{"queue", "--worker-nice", "20"}, `flipbench: invalid argument "20" for "--worker-nice" flag`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCLI(t, nil, tt.args...)
			if code != 2 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, stdout)
			}
			if !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "\n") > 2 {
				t.Errorf("stderr %q, want it to start %q", stderr, tt.want)
			}
		})
	}
}

// TestLaunchQueue: server.Launch starts a queue server as it starts a
// cluster (queue.Launch: server.EntrySuperviseQueue, the reply mode in
// the spec), returns once its workers
// are ready, and stops it; jobs are flipped by the reported workers.
func TestLaunchQueue(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logs := newLineBuffer()
	inst, err := queue.Launch(ctx, server.LaunchConfig{Exe: bin,
		Name: "queue", Workers: 2, Config: server.Config{Image: "fixture:" + fixtures.SmallJPEG, Threads: 1}, Stderr: logs}, queue.LaunchSettings{Reply: queue.ReplyWait})
	if err != nil {
		t.Fatal(err)
	}
	workers := inst.WorkerPIDs
	for _, r := range postAllDispatch(inst.URL, 6, nil) {
		if r.status != 200 || !slices.Contains(workers, r.pid) {
			t.Errorf("POST /flip: status %d from pid %d; want 200 from one of %v", r.status, r.pid, workers)
		}
	}
	if err := inst.Stop(ctx); err != nil {
		t.Errorf("stop: %v\n%s", err, logs)
	}
	waitForOrKill(t, 5*time.Second, workers)
}

// TestQueueSIGTERMLetsWaitingRequestsFinish: SIGTERM while two wait-mode
// requests are in the queue (one running, one waiting for the only
// worker): the front stops accepting but keeps its workers until both
// are answered 200, then exits 0, leaving no worker and no job file.
func TestQueueSIGTERMLetsWaitingRequestsFinish(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	q := startQueue(t, 1, "--workers", "1", "--tmp-dir", tmp)
	workers := children(q.pid())
	res := postInBackground(q.url, 2, nil)
	waitFor(t, 30*time.Second, "a job to start", func() bool { return len(jobEvents("start", q.stderr.String())) > 0 })
	q.cmd.Process.Signal(syscall.SIGTERM)
	for _, r := range <-res {
		if r.err != nil || r.status != 200 {
			t.Errorf("request in the queue at SIGTERM: status %d, err %v; want 200", r.status, r.err)
		}
	}
	select {
	case <-q.done:
	case <-time.After(40 * time.Second):
		t.Fatal("front did not exit after SIGTERM")
	}
	if q.err != nil {
		t.Errorf("front exit: %v, want 0\n%s", q.err, q.stderr)
	}
	waitForOrKill(t, 5*time.Second, workers)
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Errorf("left in --tmp-dir: %v", left)
	}
}

// TestQueueToken: with --nats-token the broker refuses a client without
// the token, and the front's local workers (given it in their
// environment, not on their command line) still serve.
func TestQueueToken(t *testing.T) {
	t.Parallel()
	q := startQueue(t, 1, "--workers", "1", "--nats-token", "s3cret", "--image", "fixture:"+fixtures.SmallJPEG)
	if r := postDispatch(client, q.url, nil); r.status != 200 {
		t.Errorf("POST /flip with a token-guarded broker: %d, want 200", r.status)
	}
	if nc, err := nats.Connect(q.nats); err == nil {
		nc.Close()
		t.Errorf("connected to the broker without its token")
	}
	for _, pid := range children(q.pid()) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmdline, []byte("s3cret")) {
			t.Errorf("worker %d has the token on its command line: %q", pid, cmdline)
		}
	}
}

// TestLoadAwaitsAsyncJobs: load against a real async front. Without
// --await a 202 is the answer; with --await (polling) and
// --await=events every job is followed to its end, and each record is
// the job's: status 200, a worker's PID, the queue and service times,
// the 202's latency apart and no later than the end.
func TestLoadAwaitsAsyncJobs(t *testing.T) {
	q := startQueue(t, 2, "--workers", "2", "--reply", "async", "--image", "fixture:"+fixtures.SmallJPEG)
	var workers []int
	for _, w := range q.health(t).Workers {
		workers = append(workers, w.PID)
	}
	// The local workers run at a lower priority than the front, so that
	// its answers do not wait behind their jobs.
	for _, pid := range append([]int{q.pid()}, workers...) {
		want := queue.DefaultWorkerNice
		if pid == q.pid() {
			want = 0
		}
		if got := procNice(t, pid); got != want {
			t.Errorf("process %d (front %d) has nice %d, want %d", pid, q.pid(), got, want)
		}
	}
	dir := t.TempDir()
	for _, await := range []string{"", "--await", "--await=events"} {
		t.Run(cmp.Or(await, "no await"), func(t *testing.T) {
			out := filepath.Join(dir, "load"+await+".json")
			args := []string{"load", "-n", "6", "--url", q.url + "/flip", "--out", out}
			if await != "" {
				args = append(args, await, "-v")
			} else {
				args = append(args, "-q")
			}
			stdout, stderr, code := runCLI(t, nil, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var sum results.Summary
			if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &sum) != nil {
				t.Fatalf("load file: %v", err)
			}
			if sum.OK != 6 {
				t.Fatalf("ok %d of 6: %v", sum.OK, sum.ErrorsByKind)
			}
			if await == "" {
				if sum.StatusCodes["202"] != 6 || sum.AcceptMs != nil || sum.Await != "" {
					t.Errorf("codes %v, accept %v, await %q; want six 202s and nothing awaited", sum.StatusCodes, sum.AcceptMs, sum.Await)
				}
				return
			}
			if sum.StatusCodes["200"] != 6 || sum.AcceptMs == nil || sum.Await == "" {
				t.Errorf("codes %v, accept %v, await %q; want six jobs done (200), accept stats, how they were awaited", sum.StatusCodes, sum.AcceptMs, sum.Await)
			}
			for _, r := range sum.Results {
				if !slices.Contains(workers, r.PID) || r.AcceptMs <= 0 || r.LatencyMs < r.AcceptMs || r.JobMs <= 0 || r.QueueMs <= 0 {
					t.Errorf("record %d: pid %d (workers %v), accept %v, latency %v, job %v, queue %v; want a worker's job, accepted before it ended",
						r.Seq, r.PID, workers, r.AcceptMs, r.LatencyMs, r.JobMs, r.QueueMs)
				}
			}
			if !strings.Contains(stdout, "accept p50 / p99") || !strings.Contains(stdout, "jobs awaited") {
				t.Errorf("table without the accept row or the await note:\n%s", stdout)
			}
			if !strings.Contains(stderr, "accepted after") {
				t.Errorf("-v lines do not say when each job was accepted:\n%s", stderr)
			}
		})
	}
}

// TestBenchModesWithQueue: bench --modes all measures standard, cluster
// and queue in the same rounds, each with its speedup; with
// --queue-reply async the queue arm's jobs are followed to their end and
// its accept times are shown.
func TestBenchModesWithQueue(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.json")
	stdout, stderr, code := runCLI(t, nil, "bench", "--quick", "--modes", "all", "--queue-reply", "async",
		"--workers", "2", "--rounds", "1", "-n", "4", "--out", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	run := readRun(t, out)
	var modes []string
	for _, a := range run.Arms {
		modes = append(modes, a.Mode)
		if a.OK != 4 {
			t.Errorf("arm %s: ok %d of 4", a.Name, a.OK)
		}
		if a.Mode != results.Standard && a.Speedup.Rounds != 1 {
			t.Errorf("arm %s: %d speedups, want 1", a.Name, a.Speedup.Rounds)
		}
	}
	if !slices.Equal(modes, []string{"standard", "cluster", "queue"}) {
		t.Fatalf("arms' modes %v, want standard, cluster, queue", modes)
	}
	qa := run.Arm("queue")
	if qa.Reply != "async" || qa.AcceptMs == nil || qa.WaitMs == nil || qa.StatusCodes["200"] != 4 {
		t.Errorf("queue arm: reply %q, accept %v, wait %v, codes %v; want async, accept and wait times, four jobs done",
			qa.Reply, qa.AcceptMs, qa.WaitMs, qa.StatusCodes)
	}
	for _, want := range []string{"| queue ", "stream", "accept p99"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table without %q:\n%s", want, stdout)
		}
	}
}

// procNice is a process's nice value, from /proc/PID/stat.
func procNice(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // fields from the 3rd, state
	n, err := strconv.Atoi(fields[19-3])
	if err != nil {
		t.Fatalf("/proc/%d/stat: nice %q: %v", pid, fields[19-3], err)
	}
	return n
}

// TestQueueTLS: with a certificate the embedded server requires TLS: a
// client that does not trust it cannot connect, the front's local
// worker and a remote one given --nats-cacert both take jobs over TLS.
func TestQueueTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSignedCert(t, dir)
	q := startQueue(t, 1, "--workers", "1", "--nats-tls-cert", cert, "--nats-tls-key", key, "--image", "fixture:"+fixtures.SmallJPEG)
	if !strings.HasPrefix(q.nats, "tls://") {
		t.Fatalf("nats URL %s, want tls://", q.nats)
	}
	if nc, err := nats.Connect(q.nats, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a client that does not trust the certificate connected")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted client: %v, want a certificate error", err)
	}
	remote := startWorker(t, q.nats, "remote", "--nats-cacert", cert, "--tmp-dir", dir)
	q.waitIdle(t, 2)
	pids := untilBothServe(t, q.url, 6, nil, nil)
	local := q.health(t).Workers[0].PID
	if len(pids) != 2 || pids[local] == 0 || pids[remote.pid()] == 0 {
		t.Errorf("jobs per worker pid %v, want both the local worker (%d) and the remote one (%d)", pids, local, remote.pid())
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key as PEM
// files in dir.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "flipbench test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// untilBothServe posts bursts of n flips to url (at most five) until two
// worker PIDs have answered, checks each answer is a 200 (and with check,
// if set), and returns the answers per PID.
func untilBothServe(t *testing.T, url string, n int, body []byte, check func(dispatchResult)) map[int]int {
	t.Helper()
	pids := map[int]int{}
	for round := 0; round < 5 && len(pids) < 2; round++ {
		for _, r := range postAllDispatch(url, n, body) {
			if r.err != nil || r.status != 200 {
				t.Fatalf("POST /flip: status %d, err %v", r.status, r.err)
			}
			if check != nil {
				check(r)
			}
			pids[r.pid]++
		}
	}
	return pids
}
