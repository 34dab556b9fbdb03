//go:build linux

package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
)

// natsServerBin is nats-server built from the module flipbench embeds,
// once, for the tests that need servers they can kill.
var natsServerBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "flipbench-nats-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "nats-server")
	build := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building nats-server: %w\n%s", err, out)
	}
	return bin, nil
})

// natsCluster is a JetStream cluster of nats-server processes on
// loopback.
type natsCluster struct {
	urls  []string
	args  [][]string // each server's, to start it again
	procs []*exec.Cmd
}

// URL is every server's client URL, as --nats takes them.
func (c *natsCluster) URL() string { return strings.Join(c.urls, ",") }

// startNATSCluster starts n clustered nats-server processes with
// JetStream, each with a store of its own, and waits until JetStream
// answers (a meta leader is elected). Cleanup kills what is left.
func startNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	bin, err := natsServerBin()
	if err != nil {
		t.Fatal(err)
	}
	c := &natsCluster{}
	var routes []string
	clients := make([]string, n)
	for i := range n {
		clients[i] = freeAddr(t)
		routes = append(routes, "nats://"+freeAddr(t))
	}
	for i := range n {
		client, route := clients[i], strings.TrimPrefix(routes[i], "nats://")
		host, port, _ := strings.Cut(client, ":")
		args := []string{"-a", host, "-p", port, "-n", fmt.Sprintf("node%d", i+1), "-js", "-sd", t.TempDir(),
			"--cluster_name", "flipbench", "--cluster", "nats://" + route, "--routes", strings.Join(routes, ",")}
		c.args = append(c.args, args)
		c.procs = append(c.procs, nil)
		c.urls = append(c.urls, "nats://"+client)
		c.start(t, bin, i)
	}
	nc, err := nats.Connect(c.URL(), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the NATS cluster's JetStream to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return c
}

// start starts server i; cleanup kills it.
func (c *natsCluster) start(t *testing.T, bin string, i int) {
	t.Helper()
	cmd := exec.Command(bin, c.args[i]...)
	cmd.Stderr = newLineBuffer()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.procs[i] = cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// js connects to the cluster's JetStream; cleanup closes the connection.
func (c *natsCluster) js(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.URL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamInfo reads a stream's state from the cluster, fresh.
func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return info
}

// leaderOf is the index of the server that leads stream name.
func (c *natsCluster) leaderOf(t *testing.T, js jetstream.JetStream, name string) int {
	t.Helper()
	info := streamInfo(t, js, name)
	var i int
	if info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("stream %s has no leader: %+v", name, info.Cluster)
	}
	if _, err := fmt.Sscanf(info.Cluster.Leader, "node%d", &i); err != nil {
		t.Fatalf("stream %s: leader %q", name, info.Cluster.Leader)
	}
	return i - 1
}

// kill9 kills server i, as a crash would.
func (c *natsCluster) kill9(i int) {
	c.procs[i].Process.Signal(syscall.SIGKILL)
	c.procs[i].Wait()
}

// TestQueueOnANATSCluster: a front and a worker on a cluster of three
// NATS servers, the queue replicated on all three, serve a burst; more
// replicas than servers is a one-line refusal, exit 2.
func TestQueueOnANATSCluster(t *testing.T) {
	c := startNATSCluster(t, 3)
	q := startQueueWith(t, 0, "--workers", "0", "--nats", c.URL(), "--replicas", "3", "--image", "fixture:"+fixtures.SmallJPEG)
	startWorker(t, c.URL(), "w1")
	q.waitIdle(t, 1)
	for i, r := range postConcurrently(q.url, 6, nil) {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("job %d on the cluster: %d, %v", i, r.status, r.err)
		}
	}
	nc, err := nats.Connect(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{queue.StreamName, "KV_" + queue.RecordsBucket, "OBJ_" + queue.UploadsBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if info := s.CachedInfo(); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Errorf("stream %s: %d replicas (%+v), want 3: a leader and two followers", name, info.Config.Replicas, info.Cluster)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats", c.urls[0], "--replicas", "5"}, "5 replicas need 5 servers; the NATS cluster has 3"},
		{[]string{"--replicas", "3"}, "the embedded server is one"},
		{[]string{"--nats", c.URL(), "--replicas", "6"}, "--replicas"},
	} {
		_, stderr, code := runCLI(t, nil, append([]string{"queue", "--workers", "0", "--addr", "127.0.0.1:0"}, tt.args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if last := lines[len(lines)-1]; code != 2 || !strings.Contains(last, tt.want) {
			t.Errorf("queue %v: exit %d, last line %q; want 2 and %q", tt.args, code, last, tt.want)
		}
	}
}

// TestQueueSurvivesTheLossOfTheStreamLeader: during an async burst on a
// cluster of three, the stream's leader is killed with SIGKILL; every
// job the front accepted ends, done, once; the server starts again and
// catches up, and a second burst runs clean.
func TestQueueSurvivesTheLossOfTheStreamLeader(t *testing.T) {
	c := startNATSCluster(t, 3)
	bin, _ := natsServerBin()
	q := startQueueWith(t, 0, "--workers", "0", "--nats", c.URL(), "--replicas", "3", "--reply", "async", "--image", "fixture:"+fixtures.SmallJPEG)
	w1, w2 := startWorker(t, c.URL(), "w1"), startWorker(t, c.URL(), "w2")
	q.waitIdle(t, 2)
	js := c.js(t)
	leader := c.leaderOf(t, js, queue.StreamName)
	accepted, refused := asyncBurst(t, q.url, 60, 15, func() { c.kill9(leader) })
	waitFor(t, 60*time.Second, "every accepted job to end", func() bool {
		for _, id := range accepted {
			if st := jobStatus(t, q.url, id); !st.Ended() {
				return false
			}
		}
		return true
	})
	runs := jobEvents("end", w1.stderr.String(), w2.stderr.String())
	done, twice := 0, 0
	for _, id := range accepted {
		if st := jobStatus(t, q.url, id); st.State == queue.StateDone {
			done++
		} else {
			t.Errorf("job %s ended %s: %s", id, st.State, st.Error)
		}
		if runs[id] > 1 {
			twice++
		}
	}
	t.Logf("leader node%d killed: %d accepted, %d refused, %d done, %d run twice (one outcome each), 0 lost", leader+1, len(accepted), refused, done, twice)
	if refused > 0 {
		// The front tries a publish again through the election (without
		// that, 16 and 33 of 60 were refused in two runs).
		t.Errorf("%d of 60 refused while the stream elected a leader, want 0", refused)
	}
	c.start(t, bin, leader)
	waitFor(t, 30*time.Second, "the restarted server to catch up", func() bool {
		info := streamInfo(t, js, queue.StreamName)
		if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	})
	again, refused := asyncBurst(t, q.url, 20, -1, nil)
	if refused > 0 || len(again) != 20 {
		t.Errorf("after the restart: %d accepted, %d refused; want all 20 accepted", len(again), refused)
	}
	waitFor(t, 30*time.Second, "the second burst to end", func() bool {
		for _, id := range again {
			if st := jobStatus(t, q.url, id); st.State != queue.StateDone {
				return false
			}
		}
		return true
	})
}

// asyncBurst sends n POST /flip to an async front, 4 at a time, and
// calls kill (if any) once `at` have been sent; it returns the IDs of the
// jobs accepted (202) and how many were refused (any other answer).
func asyncBurst(t *testing.T, url string, n, at int, kill func()) (accepted []string, refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range n {
		if i == at && kill != nil {
			kill()
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := client.Post(url+"/flip", "application/octet-stream", nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
				return
			}
			defer resp.Body.Close()
			var acc queue.Accepted
			json.NewDecoder(resp.Body).Decode(&acc)
			if resp.StatusCode != http.StatusAccepted || acc.ID == "" {
				refused++
				return
			}
			accepted = append(accepted, acc.ID)
		})
	}
	wg.Wait()
	return accepted, refused
}

// A wait-mode burst through the SIGKILL of a leader: the stream's (where
// the fronts publish) or the job records' (which the workers read and
// write at every step). Every client is answered 200: a publish is tried
// again through the election, and so is a worker's read or write of a
// record, which before spent one of the job's three tries on each
// redelivery and ended sound jobs with "gave up after 3 tries" (a 500 for
// 1 to 3 clients of 40 in 3 runs of 13).
func TestQueueWaitBurstThroughALostLeader(t *testing.T) {
	for _, name := range []string{queue.StreamName, "KV_" + queue.RecordsBucket} {
		t.Run(name, func(t *testing.T) { waitBurstThroughALostLeader(t, name) })
	}
}

func waitBurstThroughALostLeader(t *testing.T, stream string) {
	c := startNATSCluster(t, 3)
	q := startQueueWith(t, 0, "--workers", "0", "--nats", c.URL(), "--replicas", "3", "--image", "fixture:"+fixtures.SmallJPEG)
	workers := []*workerProc{startWorker(t, c.URL(), "w1"), startWorker(t, c.URL(), "w2")}
	q.waitIdle(t, 2)
	leader := c.leaderOf(t, c.js(t), stream)
	codes, slowest := waitBurst(t, q.url, 40, 10, func() { c.kill9(leader) })
	t.Logf("%s's leader node%d killed during a wait burst of 40: answers by status %v (-1: none), slowest %s",
		stream, leader+1, codes, slowest.Round(time.Millisecond))
	if codes[http.StatusOK] == 40 {
		return
	}
	for _, out := range append([]*lineBuffer{q.stderr}, workers[0].stderr, workers[1].stderr) {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") {
				t.Log(l)
			}
		}
	}
	t.Errorf("%d of 40 clients answered 200, want all (-1 is no answer within the client's 60 s)", codes[http.StatusOK])
}

// waitBurst posts n jobs to url/flip, four at a time, calls kill before
// the one numbered at, and counts the answers by status (-1: none) and
// the slowest.
func waitBurst(t *testing.T, url string, n, at int, kill func()) (map[int]int, time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	codes, slowest := map[int]int{}, time.Duration(0)
	sem := make(chan struct{}, 4)
	for i := range n {
		if i == at {
			kill()
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			resp, err := client.Post(url+"/flip", "application/octet-stream", nil)
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, time.Since(start))
			if err != nil {
				codes[-1]++
				return
			}
			defer resp.Body.Close()
			codes[resp.StatusCode]++
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Logf("%s: %s", resp.Status, strings.Join(strings.Fields(string(b)), " "))
			}
		})
	}
	wg.Wait()
	return codes, slowest
}

// TestFrontsShareAQueue: two async fronts on one cluster share the
// stream and the records. --queue bounds the jobs waiting in the stream,
// every front's: ten accepted by one front fill the other's bound of ten.
// Any front answers for any job (GET /jobs/ID, its events), and the jobs
// of a front killed with SIGKILL are run and read from the other.
func TestFrontsShareAQueue(t *testing.T) {
	c := startNATSCluster(t, 3)
	args := []string{"--workers", "0", "--nats", c.URL(), "--replicas", "3", "--reply", "async", "--queue", "10",
		"--image", "fixture:" + fixtures.SmallJPEG}
	a, b := startQueueWith(t, 0, args...), startQueueWith(t, 0, args...)
	accepted, refused := asyncBurst(t, a.url, 10, -1, nil)
	if len(accepted) != 10 || refused != 0 {
		t.Fatalf("front a, no worker: %d accepted, %d refused; want 10 and 0", len(accepted), refused)
	}
	// The consumer counts a job a moment after the stream acknowledges it.
	waitFor(t, 10*time.Second, "the consumer to count a's ten jobs", func() bool {
		h := b.health(t)
		return h.Stream != nil && h.Stream.Pending == 10
	})
	resp, err := client.Post(b.url+"/flip", "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("front b with ten of a's jobs waiting: %s, Retry-After %q; want 503 with Retry-After",
			resp.Status, resp.Header.Get("Retry-After"))
	}
	if st := jobStatus(t, b.url, accepted[0]); st.State != queue.StateQueued {
		t.Errorf("a's job %s read from b: %s, want queued", accepted[0], st.State)
	}
	events := readEvents(t, b.url, accepted[9])
	a.kill9()
	w := startWorker(t, c.URL(), "w1")
	waitFor(t, 60*time.Second, "every job of the killed front to end, read from the other", func() bool {
		for _, id := range accepted {
			if !jobStatus(t, b.url, id).Ended() {
				return false
			}
		}
		return true
	})
	runs, done := jobEvents("end", w.stderr.String()), 0
	for _, id := range accepted {
		if st := jobStatus(t, b.url, id); st.State == queue.StateDone && runs[id] == 1 {
			done++
		} else {
			t.Errorf("job %s: %s (%s), run %d times; want done once", id, st.State, st.Error, runs[id])
		}
	}
	if got := <-events; len(got) == 0 || got[0] != "queued" || got[len(got)-1] != "done" {
		t.Errorf("events of a's job %s from b: %v, want queued ... done", accepted[9], got)
	}
	t.Logf("front a killed with SIGKILL: 10 accepted, %d done once, read from front b", done)
	if again, refused := asyncBurst(t, b.url, 10, -1, nil); len(again) != 10 || refused != 0 {
		t.Errorf("front b after the jobs ran: %d accepted, %d refused; want 10 and 0", len(again), refused)
	}
}

// TestBenchQueueArmOnANATSCluster: bench's queue arm on an external
// three-server cluster, its queue on three of them (--queue-nats,
// --queue-replicas), measured beside the standard worker; an external
// broker for two queue arms, or replicas without it, is refused.
func TestBenchQueueArmOnANATSCluster(t *testing.T) {
	c := startNATSCluster(t, 3)
	out := filepath.Join(t.TempDir(), "run.json")
	stdout, stderr, code := runCLI(t, nil, "bench", "--quick", "--modes", "standard,queue", "--workers", "2", "--rounds", "2",
		"--queue-nats", c.URL(), "--queue-replicas", "3", "--out", out)
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s%s", code, stdout, stderr)
	}
	run := readRun(t, out)
	var q *results.Arm
	for i := range run.Arms {
		if run.Arms[i].Mode == results.Queue {
			q = &run.Arms[i]
		}
	}
	if q == nil || q.Speedup.Rounds != 2 || q.Speedup.Median <= 0 || q.Stats.Errors != 0 {
		t.Fatalf("queue arm %+v: want a speedup in each of 2 rounds, no error", q)
	}
	if info := streamInfo(t, c.js(t), queue.StreamName); info.Config.Replicas != 3 {
		t.Errorf("the queue arm's stream has %d replicas, want 3", info.Config.Replicas)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--modes", "standard,queue", "--workers", "1,2", "--queue-nats", c.URL()}, "serves one queue arm, and this bench has 2"},
		{[]string{"--queue-nats", c.URL()}, "add queue to --modes"},
		{[]string{"--modes", "all", "--queue-replicas", "3"}, "give its URLs with --queue-nats"},
		{[]string{"--modes", "all", "--queue-nats", "notaurl"}, "want nats://HOST:PORT"},
	} {
		_, stderr, code := runCLI(t, nil, append([]string{"bench", "--quick"}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("bench %v: exit %d, %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}
