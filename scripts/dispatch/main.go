// Command dispatch measures the table of docs/dispatch.md: each dispatch
// policy of `flipbench cluster`, side by side on this machine. It builds
// flipbench, starts real clusters on loopback ports, and prints one
// Markdown row per policy. It takes about ten minutes on 2 CPUs:
//
//	go run ./scripts/dispatch            # every policy
//	go run ./scripts/dispatch -sched free,shared -rounds 3
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flipbench/flipbench/bench"
	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

var (
	scheds = flag.String("sched", strings.Join(server.Scheds, ","), "policies to measure")
	rounds = flag.Int("rounds", 3, "bench rounds per policy on the default photo")
	small  = "fixture:" + fixtures.SmallJPEG
)

func main() {
	flag.Parse()
	dir, err := os.MkdirTemp("", "dispatch-")
	check(err)
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "flipbench")
	build := exec.Command("go", "build", "-o", bin, "./cmd/flipbench")
	build.Stderr = os.Stderr
	check(build.Run())

	policies := strings.Split(*scheds, ",")
	fmt.Fprintf(os.Stderr, "bench of every policy in one interleaved schedule\n")
	figures := benchFigures(bin, policies)
	fmt.Println("| policy | speedup (efficiency) | Jain, fewest-most | last vs ideal | wait p50 | overhead vs shared | delay from 8 idle + 2 slow | lost to kill -9 | failed in SIGHUP | 503 latency p50 | /healthz p50 saturated | peak RSS, 500-burst |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, sched := range policies {
		fmt.Fprintf(os.Stderr, "measuring %s\n", sched)
		row := []string{"`" + sched + "`"}
		row = append(row, figures[sched]...)
		row = append(row,
			overhead(bin, sched),
			idleDelay(bin, sched),
			killLoss(bin, sched),
			hupFailures(bin, sched),
			rejectLatency(bin, sched),
			healthUnderLoad(bin, sched),
			burstRSS(bin, sched),
		)
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
}

// benchFigures: speedup, fairness, last response against the ideal and
// the wait of each policy, from one bench of the default photo that
// measures a cluster under every policy in the same interleaved rounds
// (flipbench bench --sched ...).
func benchFigures(bin string, scheds []string) map[string][]string {
	run, err := bench.Run(context.Background(), bench.Config{
		Servers:  &bench.Own{Exe: bin, Workers: []int{2}, Scheds: scheds, Config: server.Config{Threads: 1}},
		Requests: 10, Rounds: *rounds,
	})
	check(err)
	out := map[string][]string{}
	for _, c := range run.Clusters() {
		counts := slices.Sorted(maps.Values(c.RequestsPerWorker))
		lo := counts[0]
		if len(counts) < c.Workers {
			lo = 0
		}
		wait := "-"
		if c.WaitMs != nil {
			wait = ms(c.WaitMs.P50)
		}
		out[c.Sched] = []string{
			fmt.Sprintf("%.2fx (%.2f)", c.Speedup.Median, c.Speedup.Efficiency),
			fmt.Sprintf("%.3f, %d-%d", c.Jain, lo, counts[len(counts)-1]),
			fmt.Sprintf("%.2fx", c.LastMs/c.IdealLastMs),
			wait,
		}
	}
	return out
}

// cluster is a running `flipbench cluster`.
type cluster struct {
	cmd *exec.Cmd
	url string
}

func start(bin, sched string, args ...string) *cluster {
	cmd := exec.Command(bin, append([]string{"cluster", "--workers", "2", "--addr", "127.0.0.1:0", "--sched", sched}, args...)...)
	// A cluster must not outlive this program, even when it fails.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	check(err)
	c := &cluster{cmd: cmd, url: strings.TrimSpace(strings.TrimPrefix(line, "listening on "))}
	deadline := time.Now().Add(30 * time.Second)
	for len(c.workers()) < 2 || get(c.url+"/") != nil {
		if time.Now().After(deadline) {
			panic("cluster not ready")
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	return c
}

func (c *cluster) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()
}

// workers lists the supervisor's children: each of its threads has its
// own list in /proc.
func (c *cluster) workers() []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", c.cmd.Process.Pid))
	var pids []int
	for _, name := range files {
		b, _ := os.ReadFile(name)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func get(url string) error {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func load(cfg loadgen.Config) *results.Summary {
	sum, err := loadgen.Run(context.Background(), cfg)
	check(err)
	return sum
}

// overhead: the median latency of one request at a time on the tiny
// image, less shared's, measured alternately.
func overhead(bin, sched string) string {
	if sched == server.SchedShared {
		return "0 (baseline)"
	}
	a, b := start(bin, sched, "--image", small), start(bin, server.SchedShared, "--image", small)
	defer a.stop()
	defer b.stop()
	var da, db []float64
	for range 5 {
		for _, c := range []struct {
			url string
			out *[]float64
		}{{a.url, &da}, {b.url, &db}} {
			sum := load(loadgen.Config{URL: c.url + "/flip", Requests: 1, Rounds: 40})
			for _, r := range sum.RoundStats {
				*c.out = append(*c.out, r.LatencyMs.P50)
			}
		}
	}
	return fmt.Sprintf("%+.2f ms", results.Median(da)-results.Median(db))
}

// idleDelay: how much longer a normal request takes while 8 idle
// connections and 2 clients sending their head a byte every 200 ms are
// open.
func idleDelay(bin, sched string) string {
	c := start(bin, sched, "--image", small)
	defer c.stop()
	base := load(loadgen.Config{URL: c.url + "/flip", Requests: 1, Rounds: 5}).LatencyMs.P50
	addr := strings.TrimPrefix(c.url, "http://")
	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for range 8 {
		conn, err := net.Dial("tcp", addr)
		check(err)
		conns = append(conns, conn)
	}
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		check(err)
		conns = append(conns, conn)
		go func() {
			for _, b := range []byte("POST /flip HTTP/1.1\r\nHost: x\r\n\r\n") {
				if _, err := conn.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond) // a slow client, on purpose
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the idle ones be accepted first, on purpose
	sum := load(loadgen.Config{URL: c.url + "/flip", Requests: 1, Timeout: 30 * time.Second})
	if sum.Errors > 0 {
		return "over 30 s (" + strings.Join(slices.Sorted(maps.Keys(sum.ErrorsByKind)), ", ") + ")"
	}
	return fmt.Sprintf("%s", ms(sum.LatencyMs.Max-base))
}

// killLoss: failed requests when one worker is SIGKILLed during a
// steady 100 requests a second on the tiny image.
func killLoss(bin, sched string) string {
	c := start(bin, sched, "--image", small)
	defer c.stop()
	victim := c.workers()[0]
	go func() {
		time.Sleep(1500 * time.Millisecond) // mid-run, on purpose
		syscall.Kill(victim, syscall.SIGKILL)
	}()
	sum := load(loadgen.Config{URL: c.url + "/flip", Rate: loadgen.Rate{Freq: 100, Per: time.Second}, Duration: 3 * time.Second})
	return fmt.Sprintf("%d of %d", sum.Errors, sum.Requests)
}

// hupFailures: failed requests during a rolling restart under a steady
// 50 requests a second on the tiny image.
func hupFailures(bin, sched string) string {
	c := start(bin, sched, "--image", small)
	defer c.stop()
	go func() {
		time.Sleep(time.Second) // mid-run, on purpose
		c.cmd.Process.Signal(syscall.SIGHUP)
	}()
	sum := load(loadgen.Config{URL: c.url + "/flip", Rate: loadgen.Rate{Freq: 50, Per: time.Second}, Duration: 4 * time.Second})
	return fmt.Sprintf("%d of %d", sum.Errors, sum.Requests)
}

// rejectLatency: the median latency of the 503s when a burst of 40 meets
// --queue 5 on the default photo.
func rejectLatency(bin, sched string) string {
	if sched != server.SchedFree && sched != server.SchedRR {
		return "n/a (no queue bound)"
	}
	c := start(bin, sched, "--queue", "5")
	defer c.stop()
	sum := load(loadgen.Config{URL: c.url + "/flip", Requests: 40})
	var lat []float64
	for _, r := range sum.Results {
		if r.Status == http.StatusServiceUnavailable {
			lat = append(lat, r.LatencyMs)
		}
	}
	if len(lat) == 0 {
		return "no 503"
	}
	return fmt.Sprintf("%s (%d)", ms(results.Median(lat)), len(lat))
}

// healthUnderLoad: the median latency of GET /healthz while a burst of
// 10 default photos keeps both workers busy.
func healthUnderLoad(bin, sched string) string {
	c := start(bin, sched)
	defer c.stop()
	done := make(chan struct{})
	go func() {
		load(loadgen.Config{URL: c.url + "/flip", Requests: 10})
		close(done)
	}()
	time.Sleep(500 * time.Millisecond) // the burst is in, on purpose
	// Five probes at once, while every worker is busy: one after another,
	// the later ones would come after the burst.
	lat := make([]float64, 5)
	var wg sync.WaitGroup
	failed := false
	for i := range lat {
		wg.Go(func() {
			t := time.Now()
			if get(c.url+"/healthz") != nil {
				failed = true
			}
			lat[i] = float64(time.Since(t).Microseconds()) / 1000
		})
	}
	wg.Wait()
	<-done
	if failed {
		return "failed"
	}
	return ms(results.Median(lat))
}

// burstRSS: the cluster's peak resident memory (supervisor and workers)
// during a burst of 500 on the tiny image with --queue 50.
func burstRSS(bin, sched string) string {
	c := start(bin, sched, "--image", small, "--queue", "50")
	defer c.stop()
	var peak float64
	var mu sync.Mutex
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			total := rss(c.cmd.Process.Pid)
			for _, pid := range c.workers() {
				total += rss(pid)
			}
			mu.Lock()
			peak = max(peak, total)
			mu.Unlock()
		}
	}()
	sum := load(loadgen.Config{URL: c.url + "/flip", Requests: 500})
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	return fmt.Sprintf("%.0f MB (%d ok, %d 503)", peak, sum.StatusCodes["200"], sum.StatusCodes["503"])
}

// rss is a process's resident memory in MB, from /proc.
func rss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

func ms(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		os.Exit(1)
	}
}
