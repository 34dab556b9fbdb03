//go:build linux

// End-to-end tests: they build the flipbench binary once, start real
// supervisors and workers on port 0, send real requests and real signals,
// and read /proc to see which processes are left. Linux only, for /proc.
package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/results"
)

var bin string // the flipbench binary under test

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "flipbench-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "flipbench")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building flipbench:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serverProc is a running `flipbench standard|cluster`.
type serverProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *lineBuffer
	tmpDir string        // the --tmp-dir given, if any
	done   chan struct{} // closed once the process has been reaped
	err    error         // Wait's result, valid after done
	killed bool          // by the test, with SIGKILL: nothing to stop
}

// kill9 kills the process with SIGKILL and waits until it is reaped.
func (p *serverProc) kill9() {
	p.killed = true
	p.cmd.Process.Kill()
	<-p.done
}

// startServer starts flipbench with args, reads the announced address and
// polls /healthz until a worker answers. Cleanup stops it with SIGTERM and
// checks that it exits 0 and leaves no worker behind.
func startServer(t *testing.T, env []string, args ...string) *serverProc {
	t.Helper()
	p, lines := startProc(t, env, args...)
	select {
	case line := <-lines:
		u, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("first stdout line %q, want 'listening on URL'", line)
		}
		p.url = u
	case <-p.done:
		t.Fatalf("server exited early (%v): %s", p.err, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("no 'listening on' line in 20s: %s", p.stderr)
	}
	waitFor(t, 20*time.Second, "every worker ready, as /healthz says", func() bool {
		h, err := healthz(p.url)
		return err == nil && h.allReady()
	})
	return p
}

// startProc starts flipbench with args and delivers its first stdout
// lines (two at most are kept); cleanup stops it as serverProc.stop does.
func startProc(t *testing.T, env []string, args ...string) (*serverProc, <-chan string) {
	t.Helper()
	p := &serverProc{cmd: exec.Command(bin, args...), stderr: newLineBuffer(), done: make(chan struct{})}
	if i := slices.Index(args, "--tmp-dir"); i >= 0 {
		p.tmpDir = args[i+1]
	}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	// Workers inherit the stderr pipe: if a test leaves one running, Wait
	// must still return once the supervisor is gone.
	p.cmd.WaitDelay = 5 * time.Second
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p, lines
}

// stop sends SIGTERM, and checks exit 0 and that no worker is left.
func (p *serverProc) stop(t *testing.T) {
	t.Helper()
	if p.cmd.Process == nil || p.killed {
		return
	}
	workers := children(p.cmd.Process.Pid)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("supervisor did not exit within 40s of SIGTERM")
	}
	if p.err != nil {
		t.Errorf("supervisor exit: %v, want 0\nstderr:\n%s", p.err, p.stderr)
	}
	waitForOrKill(t, 5*time.Second, workers)
	if p.tmpDir != "" {
		if left, _ := filepath.Glob(filepath.Join(p.tmpDir, "*")); len(left) > 0 {
			t.Errorf("left in --tmp-dir after a clean stop: %v", left)
		}
	}
}

// waitForOrKill waits for workers to exit and, if some are still there at
// the deadline, fails the test and kills them so they do not outlive it.
func waitForOrKill(t *testing.T, timeout time.Duration, workers []int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(alive(workers)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := alive(workers); len(left) > 0 {
		t.Errorf("workers %v still running %s after their supervisor stopped", left, timeout)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// lineBuffer is a goroutine-safe io.Writer that remembers what it got.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newLineBuffer() *lineBuffer { return &lineBuffer{} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond every 20 ms until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type health struct {
	PID        int     `json:"pid"`
	Worker     int     `json:"worker"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Inflight   int     `json:"inflight"`
	Served     int     `json:"served"`
	UptimeS    float64 `json:"uptime_s"`

	// The supervisor's view, when it answers (the free policy).
	Sched   string `json:"sched"`
	Workers []struct {
		PID      int    `json:"pid"`
		State    string `json:"state"`
		Inflight int    `json:"inflight"`
		Served   int    `json:"served"`
		Restarts int    `json:"restarts"`
	} `json:"workers"`
	Queue    int `json:"queue"`
	Rejected int `json:"rejected"`
}

// allReady reports whether every worker serves: a worker's own answer
// says so of itself; the supervisor's says it of each.
func (h health) allReady() bool {
	if h.Sched == "" {
		return true
	}
	for _, w := range h.Workers {
		if w.PID == 0 || w.State == "down" {
			return false
		}
	}
	return len(h.Workers) > 0
}

var client = &http.Client{Timeout: 60 * time.Second}

func healthz(url string) (health, error) {
	var h health
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return h, fmt.Errorf("healthz: %s", resp.Status)
	}
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// flipResult is one POST /flip as the client saw it.
type flipResult struct {
	status       int
	pid          int
	responseTime string
	err          error
}

func postFlip(url string, body []byte) flipResult {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := client.Post(url+"/flip", "application/octet-stream", r)
	if err != nil {
		return flipResult{err: err}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	pid, _ := strconv.Atoi(resp.Header.Get("X-Worker-Pid"))
	return flipResult{status: resp.StatusCode, pid: pid, responseTime: resp.Header.Get("X-Response-Time")}
}

// postConcurrently sends n POST /flip at once and returns the results.
func postConcurrently(url string, n int, body []byte) []flipResult {
	results := make([]flipResult, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = postFlip(url, body)
		})
	}
	close(start)
	wg.Wait()
	return results
}

// children lists the live child processes of pid, from /proc.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := procStat(child)
		if ok && ppid == pid && state != "Z" {
			out = append(out, child)
		}
	}
	slices.Sort(out)
	return out
}

// alive returns the pids that still run (zombies count as gone: in a
// container nobody may reap an orphan, but it no longer runs).
func alive(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if state, _, ok := procStat(pid); ok && state != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(fields[1])
	return fields[0], ppid, true
}

func mustFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fixtures.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustFixtureFile(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, mustFixture(t, name), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCLI runs flipbench to completion and returns its output and exit code.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestClusterServesFromBothWorkers(t *testing.T) {
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--image", mustFixtureFile(t, fixtures.SmallJPEG))
	workers := children(p.pid())
	if len(workers) != 2 {
		t.Fatalf("supervisor has children %v, want 2 workers", workers)
	}
	body := mustFixture(t, fixtures.SmallPNG)
	pids := map[int]int{}
	// Concurrent bursts until both workers have answered: with two workers
	// and 8 clients at once, one worker cannot take them all, but the first
	// burst may still land before the second worker's first Accept.
	for round := 0; round < 5 && len(pids) < 2; round++ {
		for _, r := range postConcurrently(p.url, 8, body) {
			if r.err != nil || r.status != 200 {
				t.Fatalf("POST /flip: status %d, err %v", r.status, r.err)
			}
			if !strings.HasSuffix(r.responseTime, "ms") {
				t.Errorf("X-Response-Time = %q", r.responseTime)
			}
			pids[r.pid]++
		}
	}
	for pid := range pids {
		if !slices.Contains(workers, pid) {
			t.Errorf("X-Worker-Pid %d is not one of the workers %v", pid, workers)
		}
	}
	if len(pids) != 2 {
		t.Errorf("requests per worker pid: %v, want both workers", pids)
	}
}

func TestClusterRestartsKilledWorker(t *testing.T) {
	tmp := t.TempDir()
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--tmp-dir", tmp, "--image", mustFixtureFile(t, fixtures.SmallJPEG))
	before := children(p.pid())
	if len(before) != 2 {
		t.Fatalf("children %v, want 2 workers", before)
	}
	victim := before[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var replacement int
	waitFor(t, 5*time.Second, "a new worker serves", func() bool {
		now := children(p.pid())
		if len(now) != 2 || slices.Contains(now, victim) {
			return false
		}
		// The supervisor's view: a new worker, ready, counted as a restart.
		h, err := healthz(p.url)
		if err != nil || !h.allReady() {
			return false
		}
		for _, w := range h.Workers {
			if !slices.Contains(before, w.PID) && w.Restarts == 1 {
				replacement = w.PID
			}
		}
		return replacement != 0
	})
	if r := postFlip(p.url, nil); r.err != nil || r.status != 200 {
		t.Errorf("after the restart: status %d, err %v; want 200", r.status, r.err)
	}
	t.Logf("worker %d killed; worker %d ready after %s", victim, replacement, time.Since(killed).Round(time.Millisecond))
	// The killed worker could not remove its temp dir; the supervisor did.
	dirs, _ := filepath.Glob(filepath.Join(tmp, "flipbench-*"))
	if len(dirs) != 2 || slices.ContainsFunc(dirs, func(d string) bool { return strings.Contains(d, fmt.Sprintf("-p%d-", victim)) }) {
		t.Errorf("temp dirs %v, want the two live workers' only", dirs)
	}
	if !strings.Contains(p.stderr.String(), "worker exited") || !strings.Contains(p.stderr.String(), "signal: killed") {
		t.Errorf("no 'worker exited ... signal: killed' log line:\n%s", p.stderr)
	}
}

func TestGracefulStopLetsInFlightJobFinish(t *testing.T) {
	// The embedded 20 MP photo takes a worker about a second or more: long
	// enough to signal the supervisor while the job runs.
	tmp := t.TempDir()
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--tmp-dir", tmp)
	workers := children(p.pid())
	result := make(chan flipResult, 1)
	go func() { result <- postFlip(p.url, nil) }()
	waitFor(t, 20*time.Second, "the job to start", func() bool { return strings.Contains(p.stderr.String(), "job start") })

	p.cmd.Process.Signal(syscall.SIGTERM)
	r := <-result
	if r.err != nil || r.status != 200 {
		t.Fatalf("in-flight job: status %d, err %v; want 200\n%s", r.status, r.err, p.stderr)
	}
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatal("supervisor did not exit after SIGTERM")
	}
	if p.err != nil {
		t.Errorf("supervisor exit: %v, want 0", p.err)
	}
	waitForOrKill(t, 5*time.Second, workers)
	if !strings.Contains(p.stderr.String(), "job end") {
		t.Errorf("no 'job end' in the logs:\n%s", p.stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Errorf("left in --tmp-dir: %v", left)
	}
}

func TestWorkersDieWithKilledSupervisor(t *testing.T) {
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--tmp-dir", t.TempDir(), "--image", mustFixtureFile(t, fixtures.SmallJPEG))
	workers := children(p.pid())
	if len(workers) != 2 {
		t.Fatalf("children %v, want 2 workers", workers)
	}
	p.cmd.Process.Kill()
	<-p.done
	waitForOrKill(t, 2*time.Second, workers)
	p.err = nil // killed on purpose: the cleanup's exit check does not apply
}

func TestBusyWorkerDoesNotAccept(t *testing.T) {
	// One worker with one job slot, flipping the embedded 20 MP photo.
	// While the job runs the worker must not accept: a health check waits
	// in the kernel's queue and is answered after the job, not during it
	// (a plain net/http server would answer it at once with inflight 1).
	// This is the shared policy's; under free the supervisor answers.
	p := startServer(t, nil, "standard", "--sched", "shared", "--addr", "127.0.0.1:0")
	result := make(chan flipResult, 1)
	go func() { result <- postFlip(p.url, nil) }()
	waitFor(t, 20*time.Second, "the job to start", func() bool { return strings.Contains(p.stderr.String(), "job start") })
	h, err := healthz(p.url)
	if err != nil {
		t.Fatal(err)
	}
	if h.Inflight != 0 || h.Served != 1 {
		t.Errorf("health check answered with inflight %d, served %d; want 0 and 1 (after the job)", h.Inflight, h.Served)
	}
	if r := <-result; r.err != nil || r.status != 200 {
		t.Errorf("job: status %d, err %v; want 200", r.status, r.err)
	}
}

func TestStandardServesFromOnePID(t *testing.T) {
	// Under shared the worker answers /healthz itself, with its GOMAXPROCS.
	p := startServer(t, nil, "standard", "--sched", "shared", "--addr", "127.0.0.1:0", "--image", mustFixtureFile(t, fixtures.SmallJPEG))
	workers := children(p.pid())
	if len(workers) != 1 {
		t.Fatalf("children %v, want 1 worker", workers)
	}
	for _, r := range postConcurrently(p.url, 6, nil) {
		if r.err != nil || r.status != 200 {
			t.Fatalf("POST /flip: status %d, err %v", r.status, r.err)
		}
		if r.pid != workers[0] {
			t.Errorf("answered by pid %d, want the one worker %d", r.pid, workers[0])
		}
	}
	h, err := healthz(p.url)
	if err != nil {
		t.Fatal(err)
	}
	if h.GOMAXPROCS != 1 || h.PID != workers[0] || h.Served != 6 {
		t.Errorf("healthz %+v, want gomaxprocs 1, pid %d, served 6", h, workers[0])
	}
}

func TestThreadsFromEnvironment(t *testing.T) {
	p := startServer(t, []string{"FLIPBENCH_STANDARD_THREADS=2"}, "standard", "--sched", "shared", "--addr", "127.0.0.1:0", "--image", mustFixtureFile(t, fixtures.SmallJPEG))
	h, err := healthz(p.url)
	if err != nil {
		t.Fatal(err)
	}
	if h.GOMAXPROCS != 2 {
		t.Errorf("gomaxprocs %d with FLIPBENCH_STANDARD_THREADS=2, want 2", h.GOMAXPROCS)
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"cluster", "--no-such-flag"}, "flipbench: unknown flag: --no-such-flag"},
		{"missing image", nil, []string{"standard", "--image", "/no/such/photo.jpg"}, "flipbench: --image: stat /no/such/photo.jpg: no such file or directory"},
		{"bad env", []string{"FLIPBENCH_CLUSTER_WORKERS=many"}, []string{"cluster"}, "flipbench: FLIPBENCH_CLUSTER_WORKERS=\"many\""},
		{"zero workers", nil, []string{"cluster", "--workers", "0"}, `flipbench: invalid argument "0" for "--workers" flag: must be between 1 and `},
		{"bad addr", nil, []string{"standard", "--addr", "nope"}, "flipbench: --addr:"},
		{"worker by hand", nil, []string{"serve-worker"}, "flipbench: not a worker process"},
		{"launched server by hand", nil, []string{"supervise"}, "flipbench: not a launched server"},
		{"flip without file", nil, []string{"flip"}, "flipbench: flip takes 1 to 2 arguments, got 0"},
		{"unknown command", nil, []string{"flop"}, "flipbench: unknown command \"flop\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCLI(t, tt.env, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("stderr %q, want one line starting %q", stderr, tt.want)
			}
		})
	}
}

func TestFlipCommand(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "flipped.png")
	stdout, stderr, code := runCLI(t, nil, "flip", "fixture:"+fixtures.SmallPNG, out, "--repeat", "3", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var steps []struct {
		Step     string  `json:"step"`
		Runs     int     `json:"runs"`
		MedianMs float64 `json:"median_ms"`
	}
	if err := json.Unmarshal([]byte(stdout), &steps); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.Step)
		if s.Runs != 3 {
			t.Errorf("step %s: %d runs, want 3", s.Step, s.Runs)
		}
	}
	if want := []string{"copy", "decode", "flip", "encode+save", "total"}; !slices.Equal(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Errorf("flipped image not written: %v", err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, _, code := runCLI(t, nil, args...)
		if code != 0 || !strings.HasPrefix(stdout, "flipbench ") || !strings.Contains(stdout, "go1.") {
			t.Errorf("%v: exit %d, %q; want 'flipbench VERSION (commit ..., goX, os/arch)'", args, code, stdout)
		}
	}
}

func TestLoadAgainstCluster(t *testing.T) {
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--image", mustFixtureFile(t, fixtures.SmallPNG))
	workers := children(p.pid())
	out := filepath.Join(t.TempDir(), "load.json")
	stdout, stderr, code := runCLI(t, nil, "load", "-n", "8", "--rounds", "2", "--url", p.url+"/flip", "--format", "json", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum struct {
		Schema   string         `json:"schema"`
		Requests int            `json:"requests"`
		OK       int            `json:"ok"`
		LastMs   float64        `json:"last_ms"`
		Workers  map[string]int `json:"workers"`
		Rounds   []any          `json:"rounds"`
		Results  []struct {
			PID    int `json:"pid"`
			Status int `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if sum.Schema != "flipbench/load/v1" || sum.Requests != 16 || sum.OK != 16 || len(sum.Rounds) != 2 || len(sum.Results) != 16 || sum.LastMs <= 0 {
		t.Errorf("summary: schema %q requests %d ok %d rounds %d results %d last %.1f; want flipbench/load/v1, 16, 16, 2, 16, > 0",
			sum.Schema, sum.Requests, sum.OK, len(sum.Rounds), len(sum.Results), sum.LastMs)
	}
	for _, r := range sum.Results {
		if !slices.Contains(workers, r.PID) || r.Status != 200 {
			t.Errorf("result from pid %d status %d; want 200 from one of %v", r.PID, r.Status, workers)
		}
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, []byte(stdout)) {
		t.Errorf("--out file differs from the JSON on stdout (%v)", err)
	}
}

// TestLoadWarmUp: load --warmup sends its requests to the real server
// (its supervisor counts them) and leaves them out of the summary.
func TestLoadWarmUp(t *testing.T) {
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--image", mustFixtureFile(t, fixtures.SmallPNG))
	stdout, stderr, code := runCLI(t, nil, "load", "-n", "3", "--warmup", "2", "--url", p.url+"/flip", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum struct {
		Requests int `json:"requests"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	served := 0
	waitFor(t, 10*time.Second, "the supervisor to count every answer", func() bool {
		h, err := healthz(p.url)
		if err != nil {
			return false
		}
		served = 0
		for _, w := range h.Workers {
			served += w.Served
		}
		return served == 5
	})
	if sum.Requests != 3 || !strings.Contains(stderr, "warm-up: 2/2 done") {
		t.Errorf("summary of %d requests (want 3, the warm-up left out), server served %d; stderr:\n%s", sum.Requests, served, stderr)
	}
	// A warm-up that nothing answers stops the load, and leaves no
	// result file behind.
	results := filepath.Join(t.TempDir(), "results.bin")
	_, stderr, code = runCLI(t, nil, "load", "-n", "3", "--warmup", "2", "--url", "http://"+freeAddr(t)+"/flip", "--results", results)
	if _, err := os.Stat(results); code != 1 || !strings.Contains(stderr, "flipbench: warm-up: all 2 requests failed (refused: 2)") || err == nil {
		t.Errorf("a warm-up refused: exit %d, results file there: %v; want 1, the reason, no file\n%s", code, err == nil, stderr)
	}
}

func TestLoadWhereNothingListens(t *testing.T) {
	t.Parallel()
	url := "http://" + freeAddr(t) + "/flip"
	stdout, stderr, code := runCLI(t, nil, "load", "-n", "5", "--url", url)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"| requests       |          5 |", "| errors         |          5 |", "| refused |     5 |"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "flipbench: 5 of 5 requests failed (refused: 5)") || strings.Contains(stderr, "panic") {
		t.Errorf("stderr %q, want the failure count and no panic", stderr)
	}
	if _, _, code := runCLI(t, nil, "load", "-n", "2", "--url", url, "--allow-errors"); code != 0 {
		t.Errorf("--allow-errors: exit %d, want 0", code)
	}
}

// freeAddr returns a loopback address where nothing listens (it was
// bound, then closed).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestBenchQuick(t *testing.T) {
	dir := t.TempDir()
	out, page := filepath.Join(dir, "run.json"), filepath.Join(dir, "bench.html")
	stdout, stderr, code := runCLI(t, nil, "bench", "--quick", "--rounds", "2", "--workers", "2", "--out", out, "--plot", page)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"| standard |", "| cluster  |", "speedup"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	checkQuickRunFile(t, out)
	checkCosts(t, out, stdout)
	if html, err := os.ReadFile(page); err != nil || !bytes.Contains(html, []byte("<svg")) {
		t.Errorf("--plot %s: %v, want an HTML page with the figure", page, err)
	}
	// Both servers and their workers are gone.
	waitFor(t, 5*time.Second, "no flipbench server left", func() bool { return len(processesOf(bin)) == 0 })
}

// TestBenchEveryPolicyAndSize runs one bench of clusters of 2 and 3
// workers under two policies: every arm is measured in every round, in
// ABBA order, each has its speedup, its fairness and its ideal, the
// table has a row per arm and the scaling fit per policy, and the plot
// draws a timeline per arm and the scaling curve.
func TestBenchEveryPolicyAndSize(t *testing.T) {
	dir := t.TempDir()
	out, page := filepath.Join(dir, "run.json"), filepath.Join(dir, "bench.svg")
	stdout, stderr, code := runCLI(t, nil, "bench", "--quick", "--rounds", "4", "--workers", "2,3", "--sched", "rr,free",
		"--out", out, "--plot", page)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	names := []string{"standard", "cluster/2w/rr", "cluster/2w/free", "cluster/3w/rr", "cluster/3w/free"}
	for _, name := range names {
		if !regexp.MustCompile(`\| ` + name + ` +\|`).MatchString(stdout) {
			t.Errorf("table has no row for %s:\n%s", name, stdout)
		}
	}
	for _, want := range []string{"scaling (rr): 2w ", "scaling (free): 2w ", "Universal Scalability Law fit: sigma", "| dispatch "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	var run runFile
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(names)
	slices.Reverse(reversed)
	if want := slices.Concat(names, reversed, names, reversed); !slices.Equal(run.Order, want) {
		t.Errorf("order %v, want %v", run.Order, want)
	}
	if len(run.Arms) != len(names) || run.Arms[0].Sched != "rr" {
		t.Fatalf("arms %+v, want %v, standard under the first policy", run.Arms, names)
	}
	for _, a := range run.Arms[1:] {
		wantSched := a.Name[strings.LastIndex(a.Name, "/")+1:]
		if a.Sched != wantSched || a.Speedup == nil || a.Speedup.Rounds != 4 || a.Jain <= 0 || a.IdealLastMs <= 0 || sumValues(a.PerWorker) != 40 {
			t.Errorf("%s: sched %q, speedup %+v, Jain %v, ideal %v, per worker %v", a.Name, a.Sched, a.Speedup, a.Jain, a.IdealLastMs, a.PerWorker)
		}
	}
	svg, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(slices.Clone(names), "speedup by cluster size") {
		if !bytes.Contains(svg, []byte(want+",")) && !bytes.Contains(svg, []byte(want)) {
			t.Errorf("plot lacks %q", want)
		}
	}
	// The run file reads back as a run, and compares with itself on its
	// first cluster, saying so.
	stdout, stderr, code = runCLI(t, nil, "compare", out, out)
	if code != 0 || !strings.Contains(stdout, "measured 4 clusters; compared: its first, cluster/2w/rr") {
		t.Errorf("compare of a several-cluster run with itself: exit %d, want 0 and a note:\n%s%s", code, stdout, stderr)
	}
	waitFor(t, 5*time.Second, "no flipbench server left", func() bool { return len(processesOf(bin)) == 0 })
}

// readRun reads and parses the run file at path.
func readRun(t *testing.T, path string) *results.Run {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	run, err := results.ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// checkCosts checks that every burst of a run file measured what it
// cost its server, and that the table shows it: real processes use CPU
// time and hold memory (two Go processes at least a few MB each).
func checkCosts(t *testing.T, out, table string) {
	t.Helper()
	run := readRun(t, out)
	for _, rd := range run.Rounds {
		for _, s := range rd.Arms {
			if s.Cost == nil || s.Cost.CPUMs <= 0 || s.Cost.PeakRSSMB < 4 || s.CPUPerRequestMs <= 0 {
				t.Errorf("round %d %s: cost %+v, CPU a request %v ms; want the server's CPU time and memory", rd.Round, s.Arm, s.Cost, s.CPUPerRequestMs)
			}
		}
	}
	if !strings.Contains(table, "CPU a request") || !strings.Contains(table, "peak memory") {
		t.Errorf("table without the costs:\n%s", table)
	}
}

// runFile is what the end-to-end tests read of a run file.
type runFile struct {
	Schema string `json:"schema"`
	Env    struct {
		Go     string `json:"go"`
		NumCPU int    `json:"num_cpu"`
		CPU    string `json:"cpu_model"`
	} `json:"env"`
	Config struct {
		N       int `json:"n"`
		Rounds  int `json:"rounds"`
		Threads int `json:"threads"`
		Image   struct {
			SHA256 string `json:"sha256"`
			Bytes  int    `json:"bytes"`
			Pixels int    `json:"pixels"`
		} `json:"image"`
	} `json:"config"`
	Order  []string `json:"order"`
	Arms   []arm    `json:"arms"`
	Rounds []struct {
		Round int         `json:"round"`
		Arms  []roundSide `json:"arms"`
	} `json:"rounds"`
}

// checkQuickRunFile checks the run file of `bench --quick --rounds 2
// --workers 2`, read as JSON as any other program would read it.
func checkQuickRunFile(t *testing.T, out string) {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var run runFile
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	if run.Schema != "flipbench/run/v3" || run.Env.Go == "" || run.Env.NumCPU < 1 || run.Env.CPU == "" {
		t.Errorf("schema %q env %+v", run.Schema, run.Env)
	}
	c := run.Config
	if c.N != 10 || c.Rounds != 2 || c.Threads != 1 || len(c.Image.SHA256) != 64 || c.Image.Bytes == 0 || c.Image.Pixels != 384*256 {
		t.Errorf("config %+v", c)
	}
	if want := []string{"standard", "cluster", "cluster", "standard"}; !slices.Equal(run.Order, want) {
		t.Errorf("order %v, want ABBA %v", run.Order, want)
	}
	if len(run.Arms) != 2 || run.Arms[0].Name != "standard" || run.Arms[0].Workers != 1 ||
		run.Arms[1].Name != "cluster" || run.Arms[1].Workers != 2 || run.Arms[1].Baseline != "standard" || run.Arms[1].Sched != "free" {
		t.Fatalf("arms %+v; want standard of 1 worker and a cluster of 2 under free", run.Arms)
	}
	for _, sd := range run.Arms {
		// Which worker takes which connection is the dispatch's choice:
		// every answer must come from one of the arm's workers.
		if total := sumValues(sd.PerWorker); len(sd.PerWorker) < 1 || len(sd.PerWorker) > sd.Workers || total != 20 {
			t.Errorf("%s: requests per worker %v, want at most %d pids answering 20 in all", sd.Name, sd.PerWorker, sd.Workers)
		}
		// The server reports each job's time: the ideal last response
		// follows from it, ceil(10/workers) jobs in a row.
		if sd.JobMs <= 0 || sd.IdealLastMs != math.Round(math.Ceil(10/float64(sd.Workers))*sd.JobMs*1000)/1000 || sd.Jain <= 0 || sd.Jain > 1 {
			t.Errorf("%s: job %v ms, ideal last %v ms, Jain %v", sd.Name, sd.JobMs, sd.IdealLastMs, sd.Jain)
		}
	}
	if len(run.Rounds) != 2 {
		t.Fatalf("%d rounds, want 2", len(run.Rounds))
	}
	for i, r := range run.Rounds {
		if len(r.Arms) != 2 {
			t.Fatalf("round %d: %d arms, want 2", i+1, len(r.Arms))
		}
		for _, rs := range r.Arms {
			if r.Round != i+1 || rs.OK != 10 || len(rs.Results) != 10 || sumValues(rs.PerWorker) != 10 {
				t.Errorf("round %d %s: round %d ok %d results %d per worker %v; want %d, 10, 10, 10 in all", i+1, rs.Arm, r.Round, rs.OK, len(rs.Results), rs.PerWorker, i+1)
			}
		}
		std, cl := r.Arms[0], r.Arms[1]
		if want := math.Round(std.LastMs/cl.LastMs*1000) / 1000; cl.Speedup != want || std.Speedup != 0 {
			t.Errorf("round %d: speedup %v, want standard's last over cluster's, %v", i+1, cl.Speedup, want)
		}
	}
	s := run.Arms[1].Speedup
	if s == nil || s.Rounds != 2 || s.Median <= 0 || s.Min > s.Median || s.Max < s.Median || s.Efficiency != math.Round(s.Median/2*1000)/1000 {
		t.Errorf("speedup %+v", s)
	}
}

// arm and roundSide are what the end-to-end tests read of a run file's
// arms.
type arm struct {
	Name        string         `json:"name"`
	Workers     int            `json:"workers"`
	Sched       string         `json:"sched"`
	Baseline    string         `json:"baseline"`
	PerWorker   map[string]int `json:"requests_per_worker"`
	Jain        float64        `json:"jain"`
	JobMs       float64        `json:"job_ms"`
	IdealLastMs float64        `json:"ideal_last_ms"`
	LastMs      float64        `json:"last_ms"`
	Speedup     *struct {
		Median     float64 `json:"median"`
		Min        float64 `json:"min"`
		Max        float64 `json:"max"`
		Rounds     int     `json:"rounds"`
		Efficiency float64 `json:"efficiency"`
	} `json:"speedup"`
}

type roundSide struct {
	Arm       string         `json:"arm"`
	OK        int            `json:"ok"`
	LastMs    float64        `json:"last_ms"`
	Speedup   float64        `json:"speedup"`
	PerWorker map[string]int `json:"requests_per_worker"`
	Results   []any          `json:"results"`
}

// processesOf lists running processes of the executable exe.
func processesOf(exe string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && target == exe {
			if state, _, ok := procStat(pid); ok && state != "Z" {
				out = append(out, pid)
			}
		}
	}
	return out
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestLoadInterruptedPrintsPartialSummary(t *testing.T) {
	// One worker flipping the 20 MP photo: ten requests take several
	// seconds, so a Ctrl-C after the first answer lands in the middle.
	p := startServer(t, nil, "standard", "--addr", "127.0.0.1:0")
	out := filepath.Join(t.TempDir(), "partial.json")
	cmd := exec.Command(bin, "load", "-n", "10", "-v", "--url", p.url+"/flip", "--out", out)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var rest bytes.Buffer
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") { // the first response is in
			cmd.Process.Signal(os.Interrupt)
			break
		}
	}
	io.Copy(&rest, stderr)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("exit: %v, want code 3\n%s", err, rest.String())
	}
	if !strings.Contains(stdout.String(), "INTERRUPTED: partial results") || !regexp.MustCompile(`\|\s*requests\s*\|\s*10 \|`).MatchString(stdout.String()) {
		t.Errorf("no partial summary on stdout:\n%s", stdout.String())
	}
	var sum struct {
		Interrupted  bool           `json:"interrupted"`
		OK           int            `json:"ok"`
		Errors       int            `json:"errors"`
		Canceled     int            `json:"canceled"`
		ErrorsByKind map[string]int `json:"errors_by_kind"`
		LatencyMs    struct {
			Max float64 `json:"max"`
		} `json:"latency_ms"`
		Results []struct {
			Status    int     `json:"status"`
			Kind      string  `json:"kind"`
			LatencyMs float64 `json:"latency_ms"`
		} `json:"results"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("partial results not written: %v", err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	// Cut short is not failed: counted apart, and no part of a latency.
	if !sum.Interrupted || sum.OK < 1 || sum.Errors != 0 || len(sum.ErrorsByKind) != 0 || sum.OK+sum.Canceled != 10 {
		t.Errorf("partial summary: interrupted %v, ok %d, errors %d %v, canceled %d; want true, >= 1, none, the rest canceled",
			sum.Interrupted, sum.OK, sum.Errors, sum.ErrorsByKind, sum.Canceled)
	}
	var okMax float64
	for _, r := range sum.Results {
		if r.Status == 200 {
			okMax = max(okMax, r.LatencyMs)
		} else if r.Kind != "canceled" {
			t.Errorf("a request cut short has kind %q, want canceled", r.Kind)
		}
	}
	if sum.LatencyMs.Max != okMax {
		t.Errorf("latency max %v, want the answered requests' %v: cancelled ones must stay out", sum.LatencyMs.Max, okMax)
	}
	if !regexp.MustCompile(`canceled \(interrupted\)\s*\|\s*\d+ \|`).MatchString(stdout.String()) {
		t.Errorf("the table has no canceled row:\n%s", stdout.String())
	}
}

func TestCompareEndToEnd(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs: on one, a cluster of two workers is no faster than one worker, so there is no regression to find")
	}
	if raceDetector {
		t.Skip("needs two CPUs free, which the race run of every package shares; the plain run checks it")
	}
	dir := t.TempDir()
	two, one := filepath.Join(dir, "two.json"), filepath.Join(dir, "one.json")
	benchTwoWorkersAndOne(t, two, one)

	// Runs of different cluster sizes are refused, saying which differ.
	_, stderr, code := runCLI(t, nil, "compare", two, one)
	if code != 2 || !strings.Contains(stderr, "cluster sizes differ: base 2, head 1") || !strings.Contains(stderr, "--force") {
		t.Errorf("compare two-worker base with one-worker head: exit %d, want 2 naming the sizes: %s", code, stderr)
	}
	// Forced: a cluster of one worker is no faster than standard, the
	// speedup fell.
	stdout, stderr, code := runCLI(t, nil, "compare", two, one, "--force")
	if code != 1 {
		t.Errorf("compare --force two-worker base with one-worker head: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "FAIL: speedup fell by") || !strings.Contains(stderr, "flipbench: regression: speedup fell by") ||
		!strings.Contains(stdout, "compared although they differ (forced): cluster sizes differ") {
		t.Errorf("output does not name speedup as the regression, or the forced difference:\n%s\n%s", stdout, stderr)
	}

	// The same run against itself: nothing changed.
	stdout, stderr, code = runCLI(t, nil, "compare", two, two, "--format", "markdown")
	if code != 0 || !strings.Contains(stdout, "### flipbench compare: PASS") {
		t.Errorf("compare with itself: exit %d, want 0\n%s%s", code, stdout, stderr)
	}

	// A baseline written by the release before run files named their
	// sides still compares (--force: it may come from another machine).
	stdout, stderr, code = runCLI(t, nil, "compare", filepath.Join("..", "..", "results", "testdata", "run-v1.json"), two, "--force")
	if code == 2 || !strings.Contains(stdout, "| speedup ") {
		t.Errorf("compare a v1 baseline with a v2 run: exit %d, want a verdict (0 or 1)\n%s%s", code, stdout, stderr)
	}

	// JUnit for CI test reports.
	stdout, _, code = runCLI(t, nil, "compare", two, one, "--format", "junit", "--force")
	if code != 1 || !strings.Contains(stdout, `<failure message="speedup fell by`) {
		t.Errorf("junit: exit %d, want 1 and a speedup failure:\n%s", code, stdout)
	}

	// Bad input is exit 2, never 0.
	short := filepath.Join(dir, "short.json")
	if _, stderr, code := runCLI(t, nil, "bench", "--quick", "--rounds", "2", "--out", short); code != 0 {
		t.Fatalf("bench --rounds 2: exit %d: %s", code, stderr)
	}
	notJSON := filepath.Join(dir, "notes.txt")
	os.WriteFile(notJSON, []byte("hello"), 0o600)
	loadJSON := filepath.Join(dir, "load.json")
	os.WriteFile(loadJSON, []byte(`{"schema": "flipbench/load/v1"}`), 0o600)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"compare", two, filepath.Join(dir, "nope.json")}, "no such file"},
		{"not json", []string{"compare", two, notJSON}, "notes.txt: not JSON"},
		{"load file", []string{"compare", two, loadJSON}, "not a run file: a load file (flipbench load)"},
		{"too few rounds", []string{"compare", two, short, "--force"}, "compare needs at least 4"},
		{"one run of one build", []string{"compare", two}, "not a paired A/B bench"},
		{"three arguments", []string{"compare", two, two, two}, "compare takes a paired run file, or two run files"},
		{"unknown gate", []string{"compare", two, two, "--gate", "sped"}, "unknown gate"},
		{"bad threshold", []string{"compare", two, two, "--max-regression", "150%"}, "--max-regression"},
	} {
		_, stderr, code := runCLI(t, nil, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tt.name, code, stderr, tt.want)
		}
	}
}

// benchTwoWorkersAndOne writes a quick bench of a two-worker cluster to
// two and of a one-worker cluster to one.
func benchTwoWorkersAndOne(t *testing.T, two, one string) {
	t.Helper()
	// The test needs two workers to really run in parallel, which a machine
	// busy with other test packages may not allow for the second or two a
	// quick bench lasts: check the base run's own speedup, and retry.
	for attempt := 1; ; attempt++ {
		for _, run := range []struct{ out, workers string }{{two, "2"}, {one, "1"}} {
			if _, stderr, code := runCLI(t, nil, "bench", "--quick", "-n", "20", "--rounds", "14", "--workers", run.workers, "--out", run.out); code != 0 {
				t.Fatalf("bench --workers %s: exit %d: %s", run.workers, code, stderr)
			}
		}
		// 35% faster than one worker, which is no faster than
		// standard, over 14 rounds, leaves the comparison a clear fall
		// to find (its threshold is 10% over the whole interval: a busy
		// CI runner's noise kept the interval's end at 0.91 at 6 rounds
		// and 1.34x, and at 0.90 at 10 rounds and 1.40x); an idle
		// 2-CPU machine gives 1.4 to 1.5 and about 1.0 with the small
		// image.
		speedup, single := runSpeedup(t, two), runSpeedup(t, one)
		if speedup >= 1.35*single && single <= 1.25 {
			break
		}
		if attempt == 6 {
			t.Fatalf("two workers were never clearly faster than one (speedups %.2f and %.2f in the last of 6 tries): is the machine saturated?", speedup, single)
		}
		t.Logf("attempt %d: speedups %.2f with two workers, %.2f with one (machine busy); retrying", attempt, speedup, single)
	}
}

func runSpeedup(t *testing.T, path string) float64 {
	t.Helper()
	var run runFile
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	if len(run.Arms) < 2 || run.Arms[1].Speedup == nil {
		t.Fatalf("%s: arms %+v, want a cluster arm with a speedup", path, run.Arms)
	}
	return run.Arms[1].Speedup.Median
}

func TestRollingRestartOnSIGHUP(t *testing.T) {
	// The 20 MP photo keeps a job in flight while the workers roll.
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0")
	old := children(p.pid())
	if len(old) != 2 {
		t.Fatalf("children %v, want 2 workers", old)
	}
	// The fewest open files over a moment: the connection of the last
	// /healthz poll may not be closed yet, and would count as one more.
	fds, before := settledOpenFiles(p.pid()), fdTargets(p.pid())
	result := make(chan flipResult, 1)
	go func() { result <- postFlip(p.url, nil) }()
	waitFor(t, 20*time.Second, "the job to start", func() bool { return strings.Contains(p.stderr.String(), "job start") })

	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if r := <-result; r.err != nil || r.status != 200 || !slices.Contains(old, r.pid) {
		t.Errorf("in-flight job during the roll: status %d from pid %d, err %v; want 200 from an old worker", r.status, r.pid, r.err)
	}
	waitFor(t, 30*time.Second, "the rolling restart to finish", func() bool {
		return strings.Contains(p.stderr.String(), "rolling restart done")
	})
	now := children(p.pid())
	if len(now) != 2 || slices.Contains(now, old[0]) || slices.Contains(now, old[1]) {
		t.Errorf("workers after SIGHUP %v, want 2 new ones (old: %v)", now, old)
	}
	if n := strings.Count(p.stderr.String(), "worker replaced"); n != 2 {
		t.Errorf("%d 'worker replaced' lines, want 2:\n%s", n, p.stderr)
	}
	// A new worker flips, and the supervisor's view names the new ones.
	if r := postFlip(p.url, mustFixture(t, fixtures.SmallJPEG)); r.err != nil || r.status != 200 || !slices.Contains(now, r.pid) {
		t.Errorf("after the roll: status %d from pid %d, err %v; want 200 from a new worker %v", r.status, r.pid, r.err, now)
	}
	h, err := healthz(p.url)
	if err != nil || len(h.Workers) != 2 {
		t.Fatalf("after the roll: healthz %+v, %v", h, err)
	}
	for _, w := range h.Workers {
		if !slices.Contains(now, w.PID) || w.Restarts != 0 {
			t.Errorf("after the roll: worker %+v in /healthz, want one of %v, not counted as a restart (a roll is not a crash)", w, now)
		}
	}
	// The old workers' handoff sockets are closed: a roll leaks nothing.
	deadline := time.Now().Add(15 * time.Second)
	for openFiles(p.pid()) != fds && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling, to the deadline
	}
	if n := openFiles(p.pid()); n != fds {
		t.Errorf("the supervisor has %d open files 15 s after the roll, %d before it:\nbefore %v\nafter  %v", n, fds, before, fdTargets(p.pid()))
	}
}

// fdTargets lists what a process's file descriptors point to, for a
// failure's message.
func fdTargets(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	var v []string
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		v = append(v, e.Name()+"->"+target)
	}
	return v
}

// openFiles counts a process's open file descriptors.
// settledOpenFiles is the fewest open files pid has over half a second:
// what it holds for good, without connections on their way out.
func settledOpenFiles(pid int) int {
	n := openFiles(pid)
	for range 10 {
		time.Sleep(50 * time.Millisecond) // sampling, not waiting for an event
		n = min(n, openFiles(pid))
	}
	return n
}

func openFiles(pid int) int {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(entries)
}

func TestBenchKilledTakesItsServersDown(t *testing.T) {
	cmd := exec.Command(bin, "bench", "--quick", "--rounds", "1000", "--out", "")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "cluster 1/1000") { // both servers are up and measured
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	servers := processesOf(bin)
	if len(servers) < 5 { // bench, 2 supervisors, 1 + 2 workers
		t.Errorf("processes of the binary while benching: %v, want bench, 2 supervisors and 3 workers", servers)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, 10*time.Second, "the servers of a SIGKILLed bench to exit", func() bool { return len(processesOf(bin)) == 0 })
	// Their logs went to a pipe nobody reads any more: they must still
	// have cleaned up rather than died of SIGPIPE.
	for _, pid := range servers {
		if left, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("flipbench-w*-p%d-*", pid))); len(left) > 0 {
			t.Errorf("temp dirs left by worker %d: %v", pid, left)
		}
	}
}

func TestReportMergesLoadFiles(t *testing.T) {
	p := startServer(t, nil, "cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--image", mustFixtureFile(t, fixtures.SmallJPEG))
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"a.json", "b.json"} {
		f := filepath.Join(dir, name)
		if _, stderr, code := runCLI(t, nil, "load", "-n", "5", "--url", p.url+"/flip", "--out", f, "--format", "json"); code != 0 {
			t.Fatalf("load: exit %d: %s", code, stderr)
		}
		files = append(files, f)
	}
	stdout, stderr, code := runCLI(t, nil, append([]string{"report", "--format", "json"}, files...)...)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	var sum struct {
		Requests int `json:"requests"`
		Results  []struct {
			Source string `json:"source"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 10 || len(sum.Results) != 10 || sum.Results[0].Source == "" {
		t.Errorf("merged report: %d requests, %d results; want 10 with sources", sum.Requests, len(sum.Results))
	}
	if _, stderr, code := runCLI(t, nil, "report", files[0], filepath.Join(dir, "none.json")); code != 2 || !strings.Contains(stderr, "no such file") {
		t.Errorf("report of a missing file: exit %d %q, want 2", code, stderr)
	}
}

func TestBenchAnyServerUnderTest(t *testing.T) {
	// Any pair of commands that serve one URL: here flipbench itself, as
	// the README's example does with the article's Node app. The port must
	// be known before the commands start, so this test picks a free one
	// and lets it go (a small race that the other tests avoid with port 0).
	addr := freeAddr(t)
	img := "fixture:" + fixtures.SmallJPEG
	out := filepath.Join(t.TempDir(), "ext.json")
	stdout, stderr, code := runCLI(t, nil, "bench",
		"--standard-cmd", fmt.Sprintf("exec %s standard --addr %s --image %s", bin, addr, img),
		"--cluster-cmd", fmt.Sprintf("exec %s cluster --workers {workers} --addr %s --image %s", bin, addr, img),
		"--url", "http://"+addr+"/flip", "--rounds", "2", "--workers", "1,2", "--out", out,
		"--assert", "cluster.errors==0", "--assert", "speedup>=100")
	if code != 1 || !strings.Contains(stdout, "PASS cluster.errors==0") || !strings.Contains(stdout, "FAIL speedup>=100") {
		t.Errorf("exit %d, want 1 for the failed assertion, with both checks printed:\n%s\n%s", code, stdout, stderr)
	}
	var run struct {
		Order  []string `json:"order"`
		Config struct {
			StandardCmd string `json:"standard_cmd"`
			URL         string `json:"url"`
		} `json:"config"`
		Arms []struct {
			Name    string `json:"name"`
			Workers int    `json:"workers"`
			Command string `json:"command"`
			Speedup struct {
				Rounds int `json:"rounds"`
			} `json:"speedup"`
		} `json:"arms"`
		Rounds []struct {
			Arms []struct {
				PerWorker map[string]int `json:"requests_per_worker"`
			} `json:"arms"`
		} `json:"rounds"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &run)
	// One at a time, as they share the URL, in ABBA order; the
	// placeholder took each size, and each cluster answered from as many
	// workers.
	want := []string{"standard", "cluster/1w", "cluster/2w", "cluster/2w", "cluster/1w", "standard"}
	if !slices.Equal(run.Order, want) || len(run.Arms) != 3 || run.Config.URL != "http://"+addr+"/flip" {
		t.Fatalf("run: order %v, %d arms, url %q; want %v, 3 arms, the given URL", run.Order, len(run.Arms), run.Config.URL, want)
	}
	for i, a := range run.Arms[1:] {
		// Each round starts its own server: its workers are new PIDs.
		pids := 0
		for _, rd := range run.Rounds {
			pids = max(pids, len(rd.Arms[i+1].PerWorker))
		}
		if !strings.Contains(a.Command, fmt.Sprintf("cluster --workers %d ", a.Workers)) || a.Speedup.Rounds != 2 || pids > a.Workers {
			t.Errorf("%s: command %q, %d speedups, %d pids in a round; want --workers %d, 2 speedups, at most %d pids", a.Name, a.Command, a.Speedup.Rounds, pids, a.Workers, a.Workers)
		}
	}
	waitFor(t, 5*time.Second, "the commands' servers to exit", func() bool { return len(processesOf(bin)) == 0 })
}

func TestBenchCommandsLeaveNothingBehind(t *testing.T) {
	addr := freeAddr(t)
	img := "fixture:" + fixtures.SmallJPEG
	// A helper that ignores SIGTERM, started in the background by the
	// command: the bench must still take it down with the group.
	marker := fmt.Sprintf("sleep %d", 90000+os.Getpid()%9000)
	std := fmt.Sprintf("trap '' TERM; %s & exec %s standard --addr %s --image %s", marker, bin, addr, img)
	cl := fmt.Sprintf("exec %s cluster --workers 2 --addr %s --image %s", bin, addr, img)
	_, stderr, code := runCLI(t, nil, "bench", "--standard-cmd", std, "--cluster-cmd", cl,
		"--url", "http://"+addr+"/flip", "--rounds", "1", "--workers", "2", "--out", "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if left := processesWith(marker); len(left) > 0 {
		t.Errorf("the command's background %q outlived the bench: pids %v", marker, left)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}

	// A server already on the port would be measured in place of the
	// command's: bench refuses to start.
	p := startServer(t, nil, "standard", "--addr", addr, "--image", mustFixtureFile(t, fixtures.SmallJPEG))
	_, stderr, code = runCLI(t, nil, "bench", "--standard-cmd", "exec "+bin+" standard --addr "+addr, "--cluster-cmd", cl,
		"--url", p.url+"/flip", "--rounds", "1", "--out", "")
	if code != 1 || !strings.Contains(stderr, "already answers") {
		t.Errorf("with a server already on the port: exit %d, %q; want 1 and 'already answers'", code, stderr)
	}
}

// TestPairedBenchOfAnyServer: --base-dir and --head-dir run the same
// commands in two checkouts, every round measures both, and compare on
// the one run file catches a head whose checkout does more work a
// request (a photo of nine times the pixels), naming each build's
// directory.
func TestPairedBenchOfAnyServer(t *testing.T) {
	dir := t.TempDir()
	base, head := filepath.Join(dir, "base"), filepath.Join(dir, "head")
	for _, d := range []string{base, head} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "photo.jpg"), mustFixture(t, fixtures.SmallJPEG), 0o644); err != nil {
		t.Fatal(err)
	}
	writeJPEG(t, filepath.Join(head, "photo.jpg"), 1152, 768)
	addr := freeAddr(t)
	out := filepath.Join(dir, "ab.json")
	_, stderr, code := runCLI(t, nil, "bench",
		"--standard-cmd", fmt.Sprintf("exec %s standard --addr %s --image photo.jpg", bin, addr),
		"--cluster-cmd", fmt.Sprintf("exec %s cluster --workers 2 --addr %s --image photo.jpg", bin, addr),
		"--url", "http://"+addr+"/flip", "--workers", "2", "--rounds", "6", "-n", "4",
		"--base-dir", base, "--head-dir", head, "--out", out)
	if code != 0 {
		t.Fatalf("paired bench of commands: exit %d: %s", code, stderr)
	}
	var run runFile
	b, _ := os.ReadFile(out)
	json.Unmarshal(b, &run)
	first := []string{"base/standard", "base/cluster", "head/standard", "head/cluster"}
	second := slices.Clone(first)
	slices.Reverse(second)
	if len(run.Order) != 24 || !slices.Equal(run.Order[:4], first) || !slices.Equal(run.Order[4:8], second) {
		t.Errorf("order %v; want %v, then reversed, in every round", run.Order, first)
	}
	stdout, stderr, code := runCLI(t, nil, "compare", out)
	if code != 1 || !strings.Contains(stdout, "commands in "+base) || !strings.Contains(stdout, "commands in "+head) ||
		!strings.Contains(stdout, "standard.cpu_per_request") || strings.Contains(stdout, "same binary") {
		t.Errorf("compare of a head that flips nine times the pixels: exit %d, want 1 naming both directories\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = runCLI(t, nil, "bench", "--standard-cmd", "true", "--cluster-cmd", "true",
		"--base-dir", base, "--head-dir", filepath.Join(dir, "missing"), "--out", "")
	if code != 2 || !strings.Contains(stderr, "missing") {
		t.Errorf("a head directory that does not exist: exit %d, want 2 naming it: %s", code, stderr)
	}
}

// writeJPEG writes a w×h JPEG of a gradient, to flip.
func writeJPEG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// processesWith lists running processes whose command line contains s.
func processesWith(s string) []int { return processesWhose("cmdline", s) }

// processesWhose lists running processes whose /proc/PID/FILE (cmdline,
// environ; NUL-separated) contains s.
func processesWhose(file, s string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), s) {
			if state, _, ok := procStat(pid); ok && state != "Z" {
				out = append(out, pid)
			}
		}
	}
	return out
}

// TestPairedBenchEndToEnd: a paired bench of two copies of one build
// measures both in every round, and compare on that one file compares
// them round by round; no change is found. NaN thresholds, by flag or
// by environment, are refused before anything is read.
func TestPairedBenchEndToEnd(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "flipbench-base")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base, b, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ab.json")
	var stdout, stderr string
	var code int
	for attempt := 1; attempt <= 3; attempt++ { // a false alarm is rare (<= 5%), not impossible
		if _, stderr, code := runCLI(t, nil, "bench", "--quick", "--rounds", "6", "--base-exe", base, "--head-exe", bin, "--out", out); code != 0 {
			t.Fatalf("paired bench: exit %d: %s", code, stderr)
		}
		stdout, stderr, code = runCLI(t, nil, "compare", out)
		if code == 0 {
			break
		}
		t.Logf("attempt %d: compare exit %d:\n%s", attempt, code, stdout)
	}
	if code != 0 || !strings.Contains(stdout, "paired by round") || !strings.Contains(stdout, "base: "+out+" (base) ("+base) {
		t.Errorf("compare of a paired run of one build: exit %d\n%s%s", code, stdout, stderr)
	}
	var run runFile
	b, _ = os.ReadFile(out)
	json.Unmarshal(b, &run)
	want := []string{"base/standard", "base/cluster", "head/standard", "head/cluster"}
	if len(run.Arms) != 4 || run.Order[0] != want[0] || len(run.Order) != 24 {
		t.Errorf("arms %+v, order %v; want %v in every round", run.Arms, run.Order, want)
	}
	for _, bad := range [][]string{
		{"compare", out, "--max-regression", "NaN"},
		{"compare", out, "--max-regression", "NaN%"},
		{"compare", out, "--max-regression", "Inf"},
		{"compare", out, "--alpha", "NaN"},
	} {
		if _, stderr, code := runCLI(t, nil, bad...); code != 2 || strings.Count(stderr, "\n") > 2 {
			t.Errorf("%v: exit %d, want 2 with one line: %s", bad, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, []string{"FLIPBENCH_COMPARE_MAX_REGRESSION=NaN"}, "compare", out); code != 2 {
		t.Errorf("FLIPBENCH_COMPARE_MAX_REGRESSION=NaN: exit %d, want 2: %s", code, stderr)
	}
	// A run of one build is not a paired run: exit 2, saying what to do.
	one := filepath.Join(dir, "one.json")
	if _, stderr, code := runCLI(t, nil, "bench", "--quick", "--rounds", "2", "--out", one); code != 0 {
		t.Fatalf("bench: %s", stderr)
	}
	if _, stderr, code := runCLI(t, nil, "compare", one); code != 2 || !strings.Contains(stderr, "not a paired A/B bench") {
		t.Errorf("compare of one run of one build: exit %d, %s", code, stderr)
	}
}
