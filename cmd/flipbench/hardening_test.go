//go:build linux

// Hardening: what a new user's trial of every command and every bad input
// found short (issue 20), each on the real binary.
package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

// TestClusterRefusesMoreWorkersThanTheMachineHolds: a typo of 100000
// workers is refused with exit 2 before a single fork (it used to start a
// fork storm that only SIGKILL stopped).
func TestClusterRefusesMoreWorkersThanTheMachineHolds(t *testing.T) {
	for _, args := range [][]string{
		{"cluster", "--workers", "100000", "--addr", "127.0.0.1:0"},
		{"bench", "--workers", "1,100000", "--quick"},
		{"queue", "--workers", "100000", "--addr", "127.0.0.1:0"},
	} {
		start := time.Now()
		stdout, stderr, code := runCLI(t, nil, args...)
		took := time.Since(start)
		if code != 2 || !strings.Contains(stderr, "at most") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line naming the bound", args, code, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: printed %q: it started something", args, stdout)
		}
		t.Logf("%v refused in %s", args, took.Round(time.Millisecond))
	}
	limit := strconv.Itoa(server.MaxWorkers())
	help, _, _ := runCLI(t, nil, "cluster", "--help")
	if !strings.Contains(help, "at most "+server.MaxWorkersRule()) || !strings.Contains(help, limit+" on this machine") {
		t.Errorf("cluster --help does not state the bound on --workers:\n%s", help)
	}
}

// TestSignalDuringStartUpStopsEveryWorker: SIGINT while a cluster of as
// many workers as the machine holds (32 at most here) is starting stops
// the supervisor and every worker it forked, and forks nothing after.
func TestSignalDuringStartUpStopsEveryWorker(t *testing.T) {
	n := min(server.MaxWorkers(), 32)
	tmp := t.TempDir() // in every worker's spec: it marks this test's workers
	p, lines := startProc(t, nil, "cluster", "--workers", strconv.Itoa(n), "--addr", "127.0.0.1:0",
		"--image", mustFixtureFile(t, "small.jpg"), "--tmp-dir", tmp)
	select {
	case <-lines: // bound; the workers are starting
	case <-p.done:
		t.Fatalf("cluster exited before listening: %v\n%s", p.err, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("no 'listening on' in 20s:\n%s", p.stderr)
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("cluster of %d still running 30s after SIGINT during start-up:\n%s", n, p.stderr)
	}
	waitFor(t, 10*time.Second, "no worker of this cluster left", func() bool {
		return len(processesWhose("environ", tmp)) == 0
	})
	t.Logf("%d workers starting: supervisor and workers gone %s after SIGINT", n, time.Since(start).Round(time.Millisecond))
}

// TestTruncatedImageIsRefusedBeforeTheWork: a JPEG cut short has a valid
// header; it used to be accepted, every request then failed, and the
// bench printed a speedup of them. The image is now decoded once, before
// anything starts.
func TestTruncatedImageIsRefusedBeforeTheWork(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.jpg")
	writeJPEG(t, whole, 600, 400)
	b, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.jpg")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run.json")
	for _, args := range [][]string{
		{"bench", "--image", cut, "--rounds", "1", "-n", "2", "--out", out},
		{"standard", "--image", cut, "--addr", "127.0.0.1:0"},
		{"cluster", "--image", cut, "--addr", "127.0.0.1:0", "--workers", "1"},
		{"queue", "--image", cut, "--addr", "127.0.0.1:0", "--workers", "1"},
	} {
		stdout, stderr, code := runCLI(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "corrupt image") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 || stdout != "" {
			t.Errorf("%s with a truncated image: exit %d, stdout %q, stderr %q; want exit 2 and one line", args[0], code, stdout, stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("bench wrote %s for an image it refused", out)
	}
}

// TestInterruptedCommandBenchKeepsFinishedRounds: Ctrl-C in the second
// round of a bench of command servers keeps the first round, in the
// table and in --out, exits 3, and names whatever it left out. (Measured
// in blocks, all standard rounds then all cluster rounds, the same
// interruption used to keep nothing.)
func TestInterruptedCommandBenchKeepsFinishedRounds(t *testing.T) {
	addr := freeAddr(t)
	img := "fixture:small.jpg"
	out := filepath.Join(t.TempDir(), "run.json")
	p := startCLI(t, "bench",
		"--standard-cmd", fmt.Sprintf("exec %s standard --addr %s --image %s", bin, addr, img),
		"--cluster-cmd", fmt.Sprintf("exec %s cluster --workers 2 --addr %s --image %s", bin, addr, img),
		"--url", "http://"+addr+"/flip", "--workers", "2", "--rounds", "3", "-n", "4", "--out", out)
	waitFor(t, 90*time.Second, "the second round under way", func() bool {
		return strings.Contains(p.stderr.String(), " 2/3")
	})
	if code := p.interrupt(t, 60*time.Second); code != 3 {
		t.Errorf("exit %d after SIGINT, want 3:\n%s", code, p.stderr)
	}
	stdout, stderr := &p.stdout, p.stderr
	var run results.Run
	b, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(b, &run) != nil {
		t.Fatalf("no run file after SIGINT (%v):\n%s", err, stderr)
	}
	if len(run.Rounds) < 1 || !run.Interrupted || len(run.Rounds[0].Arms) != 2 {
		t.Errorf("run file: %d rounds, interrupted %v; want round 1 with both arms, interrupted", len(run.Rounds), run.Interrupted)
	}
	if !strings.Contains(stdout.String(), "INTERRUPTED") || !strings.Contains(stdout.String(), "| cluster") {
		t.Errorf("no table of the finished round on stdout:\n%s", stdout.String())
	}
	for _, cut := range run.CutShort {
		// Named with its own figures: finished work, printed and kept.
		if !regexp.MustCompile(`^round \d+: \S+ \(\d+ of 4 ok`).MatchString(cut) {
			t.Errorf("cut-short burst %q: want its round, arm and figures", cut)
		}
		if !strings.Contains(stdout.String(), cut) {
			t.Errorf("left out %q, not said in the table's notes:\n%s", cut, stdout.String())
		}
	}
}

// TestProgressSaysCancelledRequests: off a terminal, load's progress
// line after Ctrl-C said "4/4 done, 0 errors" when all four were cut
// short; it counts them apart now.
func TestProgressSaysCancelledRequests(t *testing.T) {
	// One worker flipping the 20 MP photo: four requests take seconds.
	p := startServer(t, nil, "standard", "--addr", "127.0.0.1:0")
	load := startCLI(t, "load", "-n", "4", "--url", p.url+"/flip")
	waitFor(t, 20*time.Second, "the first job to start", func() bool { return strings.Contains(p.stderr.String(), "job start") })
	if code := load.interrupt(t, 20*time.Second); code != 3 {
		t.Errorf("exit %d after SIGINT, want 3:\n%s", code, load.stderr)
	}
	stderr := load.stderr
	if !regexp.MustCompile(`4/4 ended: \d ok, 0 errors, [1-4] cancelled`).MatchString(stderr.String()) || strings.Contains(stderr.String(), "4/4 done") {
		t.Errorf("the progress line does not count the cancelled requests apart:\n%s", stderr)
	}
}

// TestUnreachableBrokerIsSaid: a worker or a queue front whose NATS
// server does not answer says so at once (they used to wait in silence),
// Ctrl-C then exits 3 (it was 0 for the worker, 1 for the front), and a
// URL that is no NATS URL is refused with exit 2.
func TestUnreachableBrokerIsSaid(t *testing.T) {
	dead := "nats://" + freeAddr(t) // nothing listens there
	for _, args := range [][]string{
		{"worker", "--nats", dead},
		{"queue", "--nats", dead, "--addr", "127.0.0.1:0", "--workers", "0"},
	} {
		p := startCLI(t, args...)
		waitFor(t, 10*time.Second, args[0]+" saying that the broker does not answer", func() bool {
			return strings.Contains(p.stderr.String(), "cannot reach the NATS server, retrying")
		})
		code, stderr := p.interrupt(t, 20*time.Second), p.stderr
		if code != 3 || !strings.Contains(stderr.String(), "does not answer") {
			t.Errorf("%s: exit %d after SIGINT, want 3 with the reason:\n%s", args[0], code, stderr)
		}
	}
	for _, url := range []string{"notaurl", "http://127.0.0.1:4222", "nats://", "nats://127.0.0.1:99999"} {
		for _, args := range [][]string{{"worker", "--nats", url}, {"queue", "--nats", url, "--addr", "127.0.0.1:0"}} {
			_, stderr, code := runCLI(t, nil, args...)
			if code != 2 || !strings.Contains(stderr, "--nats") {
				t.Errorf("%v: exit %d, %q; want exit 2 naming --nats", args, code, stderr)
			}
		}
	}
}

// TestLoadOfAsyncQueueCreditsNoWorker: plain load against a queue that
// answers 202 credits no worker with the queued jobs (the 202s carry the
// front's X-Worker-Pid, and it was shown as the one worker) and says
// that --await measures the jobs.
func TestLoadOfAsyncQueueCreditsNoWorker(t *testing.T) {
	q := startQueue(t, 1, "--workers", "1", "--reply", "async", "--image", "fixture:small.jpg")
	out := filepath.Join(t.TempDir(), "load.json")
	stdout, stderr, code := runCLI(t, nil, "load", "-n", "5", "--url", q.url+"/flip", "--out", out)
	if code != 0 {
		t.Fatalf("load: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout, "worker pid") || !strings.Contains(stdout, "5 of 5 answers were 202 Accepted") || !strings.Contains(stdout, "--await") {
		t.Errorf("load of 202s: want no worker table and a hint to --await:\n%s", stdout)
	}
	var sum results.Summary
	b, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("load file: %v", err)
	}
	if sum.Accepted != 5 || len(sum.RequestsPerWorker) != 0 {
		t.Errorf("load file: accepted %d, workers %v; want 5 and none", sum.Accepted, sum.RequestsPerWorker)
	}
	q.waitIdle(t, 1) // the queued jobs run before the queue stops
}

// TestReportRefusesWhatWouldCountTwice: report of one file twice, or of
// loads with different rounds, is refused with exit 2 (it used to say 12
// rounds for a run of 6, and 30 requests for a "burst of 20").
func TestReportRefusesWhatWouldCountTwice(t *testing.T) {
	p := startServer(t, nil, "standard", "--addr", "127.0.0.1:0", "--image", "fixture:small.jpg")
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.json"), filepath.Join(dir, "two.json")
	for _, l := range []struct {
		out, rounds string
	}{{one, "1"}, {two, "2"}} {
		if _, stderr, code := runCLI(t, nil, "load", "-n", "3", "--rounds", l.rounds, "-q", "--url", p.url+"/flip", "--out", l.out); code != 0 {
			t.Fatalf("load: exit %d: %s", code, stderr)
		}
	}
	copied := filepath.Join(dir, "copy.json")
	b, err := os.ReadFile(two)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		files []string
		want  string
	}{
		{[]string{two, two}, "hold the same measurements"},
		{[]string{two, copied}, "hold the same measurements"},
		{[]string{one, two}, "have the same rounds"},
	} {
		stdout, stderr, code := runCLI(t, nil, append([]string{"report"}, c.files...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("report %v: exit %d, %q; want exit 2 and %q", c.files, code, stderr, c.want)
		}
	}
}

// TestQueueHealthShowsEveryWorker: /healthz counts the jobs each local
// worker served (it said 0 while the worker's log said 20) and lists the
// remote workers the job records name (they were not listed at all).
func TestQueueHealthShowsEveryWorker(t *testing.T) {
	q := startQueue(t, 1, "--workers", "1", "--image", "fixture:small.jpg")
	remote := startWorker(t, q.nats, "far-away")
	q.waitIdle(t, 2)
	const n = 8
	body := mustFixture(t, "small.jpg")
	for _, r := range postConcurrently(q.url, n, body) {
		if r.err != nil || r.status != 200 {
			t.Fatalf("POST /flip: %d %v", r.status, r.err)
		}
	}
	var h struct {
		Workers []struct {
			PID    int `json:"pid"`
			Served int `json:"served"`
		} `json:"workers"`
		RemoteWorkers []struct {
			Name   string `json:"name"`
			PID    int    `json:"pid"`
			Served int    `json:"served"`
		} `json:"remote_workers"`
	}
	waitFor(t, 10*time.Second, "every job counted on /healthz", func() bool {
		resp, err := http.Get(q.url + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&h) != nil || len(h.Workers) != 1 {
			return false
		}
		served := h.Workers[0].Served
		for _, r := range h.RemoteWorkers {
			served += r.Served
		}
		return served == n
	})
	if len(h.RemoteWorkers) != 1 || h.RemoteWorkers[0].Name != "far-away" || h.RemoteWorkers[0].PID != remote.pid() {
		t.Errorf("remote workers %+v, want far-away with pid %d", h.RemoteWorkers, remote.pid())
	}
	t.Logf("local served %d, remote %+v", h.Workers[0].Served, h.RemoteWorkers)
}

// TestConsistentPathFlags: load --body takes fixture:NAME as --image and
// flip do (it was refused), and queue --store refuses a missing
// directory as every other path flag does (it made it, parents and all).
func TestConsistentPathFlags(t *testing.T) {
	p := startServer(t, nil, "standard", "--addr", "127.0.0.1:0", "--image", "fixture:small.jpg")
	stdout, stderr, code := runCLI(t, nil, "load", "-n", "2", "-q", "--body", "fixture:small.png", "--url", p.url+"/flip", "--format", "json")
	var sum results.Summary
	if code != 0 || json.Unmarshal([]byte(stdout), &sum) != nil || sum.OK != 2 || sum.BodyB != len(mustFixture(t, "small.png")) {
		t.Errorf("load --body fixture:small.png: exit %d, %d ok, body %d bytes: %s", code, sum.OK, sum.BodyB, stderr)
	}
	missing := filepath.Join(t.TempDir(), "missing", "store")
	if _, stderr, code := runCLI(t, nil, "queue", "--store", missing, "--addr", "127.0.0.1:0"); code != 2 || !strings.Contains(stderr, "does not exist") {
		t.Errorf("queue --store %s: exit %d, %q; want exit 2", missing, code, stderr)
	}
	if _, err := os.Stat(filepath.Dir(missing)); err == nil {
		t.Errorf("queue --store made %s", filepath.Dir(missing))
	}
}

// cliProc is a flipbench command run in the background, to be stopped
// as a user stops it.
type cliProc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr *lineBuffer
	done   chan struct{}
}

// startCLI starts flipbench with args; the test's end kills it if it
// still runs.
func startCLI(t *testing.T, args ...string) *cliProc {
	t.Helper()
	p := &cliProc{cmd: exec.Command(bin, args...), stderr: newLineBuffer(), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// interrupt sends SIGINT, as Ctrl-C does, and returns the exit code; a
// process still running after timeout fails the test.
func (p *cliProc) interrupt(t *testing.T, timeout time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		t.Fatalf("%v still running %s after SIGINT:\n%s", p.cmd.Args[1:], timeout, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}
