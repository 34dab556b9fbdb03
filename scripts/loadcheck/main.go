// Command loadcheck measures how exact flipbench's load generator
// (package loadgen) is, on this machine, against a test server of its own
// in a separate process. Four figures, each the median of -runs runs
// that take turns:
//
//   - overhead: rate 40/s for 10 s at a handler that sleeps 50 ms; the
//     p50 of the latencies loadgen reports, less the p50 of the handler
//     times the server reports (X-Response-Time, Record.JobMs). The same
//     figure for `vegeta attack -keepalive=false` at the same rate, and
//     for a bare net/http client (a goroutine per tick, a connection per
//     request, nothing else): the least any Go client pays here. Of the
//     bare client, where that time goes (httptrace): the connect, the
//     write, the server outside its handler with the wake-ups, the read
//     and the close.
//   - send spread: bursts of 100 (15 rounds of `load -n 100`); the median
//     of the rounds' send_spread_ms, the time between the first request
//     sent and the last, and apart the first burst's, the first of a fresh
//     process (as a one-shot `load -n 100` is), which the median hides. As a check, the spread of the same bursts as
//     the server saw them (its first handler to start to its last, by
//     X-Vegeta-Attack): a smaller send spread that the server does not
//     see would only mean that the timestamps moved.
//   - peak RSS: `flipbench load -n 10000` at a handler that sleeps 100 ms,
//     as a child process (getrusage's ru_maxrss of the child).
//   - requests per CPU-second in rate mode: `flipbench load --rate 500/s
//     --duration 8s` against `vegeta attack -rate 500/s -duration 8s` at a
//     handler that sleeps 10 ms, each a child process whose user and
//     system time are counted (getrusage, process start-up included); the
//     requests are those the server answered. Both without keep-alive
//     (flipbench's default, vegeta's -keepalive=false), then both with it
//     (--keepalive, vegeta's default).
//
// Why the difference of two p50s is the generator's overhead: a latency is
// measured by the generator from just before its client sends the request
// to when the answer's body has been read. It spans the generator's own
// send path (building the request, dialling, writing), the server's
// accept and parsing, the handler, the server's write and the generator's
// read path (waking the goroutine that waits, reading, closing). The
// server times the handler on its own clock, sleep overshoot included,
// and says so in X-Response-Time; subtracting it leaves the path outside
// the handler. That path is not all the generator's: the kernel's
// connection setup, the server's accept, parse and write, and the wake-ups
// of both processes are in it too, whatever the generator. The bare client
// column measures that part; the generator's own overhead is its excess
// over it. The server runs in a process of its own so that neither its
// CPU nor its garbage collector counts against the generator. Medians
// (p50) rather than means, so that a rare stall of the shared machine does
// not move the figure.
//
// The overhead and spread are measured in-process through the loadgen
// library, by this program run again as a child (-child), so that every
// build gets a fresh process. With -base DIR it measures a second tree
// too (a baseline: a copy of the repository, such as `git archive HEAD |
// tar -x -C DIR`), building this program's files into it with go build
// -overlay, and prints both columns; the builds take turns within each
// run. Run it from the repository's root, with nothing else busy (a run
// takes about two minutes with -base and -vegeta):
//
//	go run ./scripts/loadcheck
//	go run ./scripts/loadcheck -runs 5 -base /tmp/base -vegeta /tmp/bin/vegeta
//	go run ./scripts/loadcheck -only overhead,spread
//
// -vegeta names the vegeta CLI, built from the version in go.mod:
// `GOBIN=/tmp/bin go install github.com/tsenart/vegeta/v12@v12.13.0`;
// without it (and with none on PATH) the vegeta column is left out. All
// traffic goes to 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// The measurements, as the issue sets them.
const (
	overheadRate     = 40
	overheadDuration = 10 * time.Second
	overheadSleep    = 50 * time.Millisecond
	burstSize        = 100
	bursts           = 15
	burstSleep       = 50 * time.Millisecond
	rssRequests      = 10000
	rssSleep         = 100 * time.Millisecond
	cpuRate          = 500
	cpuDuration      = 8 * time.Second
	cpuSleep         = 10 * time.Millisecond
)

var (
	runs      = flag.Int("runs", 5, "runs of each figure (the table has their medians)")
	base      = flag.String("base", "", "also measure the tree in this directory, as the baseline")
	vegetaBin = flag.String("vegeta", "", "the vegeta CLI (default: vegeta on PATH, if any)")
	only      = flag.String("only", "overhead,spread,rss,cpu", "figures to measure")
	quiet     = flag.Float64("quiet", 0, "before each run, wait (up to 3 min) until other processes use less than this many CPUs")

	serve = flag.Bool("serve", false, "internal: be the test server")
	child = flag.String("child", "", "internal: measure overhead or spread in this process, print JSON")
	url   = flag.String("url", "", "internal: the test server's URL, for -child")
)

func main() {
	flag.Parse()
	switch {
	case *serve:
		check(runServer())
		return
	case *child != "":
		check(runChild(*child, *url))
		return
	}
	check(orchestrate())
}

// build is one tree's two programs: this one, for the in-process
// figures, and flipbench, for the others.
type build struct {
	name, loadcheck, flipbench string
}

// orchestrate measures every figure asked for, -runs times with the
// builds taking turns, and prints the table of their medians.
func orchestrate() error {
	want, err := parseFigures(*only)
	if err != nil {
		return err
	}
	if *runs < 1 {
		return fmt.Errorf("-runs must be >= 1, got %d", *runs)
	}
	vegeta := *vegetaBin
	if vegeta == "" {
		vegeta, _ = exec.LookPath("vegeta")
	}
	dir, err := os.MkdirTemp("", "loadcheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	builds, err := prepareBuilds(self, dir)
	if err != nil {
		return err
	}
	srv, err := startServer(self)
	if err != nil {
		return err
	}
	defer srv.stop()

	c := &checker{want: want, vegeta: vegeta, self: self, tmp: dir, builds: builds, srv: srv,
		figs: map[string]map[string][]float64{}}
	for run := 1; run <= *runs; run++ {
		if err := c.measureRun(run); err != nil {
			return err
		}
	}
	c.printTable()
	return nil
}

// parseFigures reads -only: the set of figures to measure. An unknown
// name is an error rather than a figure silently left out of the table.
func parseFigures(only string) (map[string]bool, error) {
	want := map[string]bool{}
	for _, f := range strings.Split(only, ",") {
		switch f = strings.TrimSpace(f); f {
		case "overhead", "spread", "rss", "cpu":
			want[f] = true
		default:
			return nil, fmt.Errorf("-only: unknown figure %q (want overhead, spread, rss, cpu)", f)
		}
	}
	return want, nil
}

// prepareBuilds builds flipbench from this tree into tmp and, with -base,
// the baseline's two programs. The baseline comes first, so that its
// column is the table's first.
func prepareBuilds(self, tmp string) ([]build, error) {
	builds := []build{{name: "this tree", loadcheck: self, flipbench: filepath.Join(tmp, "flipbench")}}
	fmt.Fprintln(os.Stderr, "building flipbench")
	if err := goBuild(".", builds[0].flipbench, "./cmd/flipbench"); err != nil {
		return nil, err
	}
	if *base != "" {
		b, err := buildBase(*base, tmp)
		if err != nil {
			return nil, err
		}
		builds = []build{b, builds[0]}
	}
	return builds, nil
}

// checker is one session's shared state: what to measure, with which
// programs, against which server, and every value measured so far.
type checker struct {
	want   map[string]bool                 // the figures -only asks for
	vegeta string                          // the vegeta CLI; "" leaves its column out
	self   string                          // this program, which is also the bare client
	tmp    string                          // the scratch directory: builds, vegeta's results
	builds []build                         // the trees measured, the baseline first
	srv    *server                         // the test server, in a process of its own
	figs   map[string]map[string][]float64 // figure, then column: a value per run
	others []float64                       // the CPUs other processes used, one per run
}

// add records one run's value of a figure in a column, and echoes it on
// stderr so that a long session shows its progress.
func (c *checker) add(fig, col string, v float64) {
	if c.figs[fig] == nil {
		c.figs[fig] = map[string][]float64{}
	}
	c.figs[fig][col] = append(c.figs[fig][col], v)
	fmt.Fprintf(os.Stderr, "  %-28s %-10s %10.3f\n", fig, col, v)
}

// measureRun measures every figure once. The builds take turns going
// first, and the CPU other processes used meanwhile is recorded, so that
// the table can say how quiet the machine was.
func (c *checker) measureRun(run int) error {
	if *quiet > 0 {
		waitQuiet(*quiet, 3*time.Minute, c.srv.cmd.Process.Pid)
	}
	fmt.Fprintf(os.Stderr, "run %d of %d (load average %s)\n", run, *runs, loadavg())
	m0, ours0 := machineBusy(), ourCPU(c.srv.cmd.Process.Pid)
	order := slices.Clone(c.builds)
	if run%2 == 0 {
		slices.Reverse(order) // neither build always goes first
	}
	for _, b := range order {
		if err := c.measureBuild(b); err != nil {
			return err
		}
	}
	if c.want["overhead"] {
		if err := c.measureOverheadReferences(); err != nil {
			return err
		}
	}
	if c.want["cpu"] {
		if err := c.measureCPU(order); err != nil {
			return err
		}
	}
	m1, ours1 := machineBusy(), ourCPU(c.srv.cmd.Process.Pid)
	o := othersCPUs(m0, m1, ours1-ours0)
	c.others = append(c.others, o)
	fmt.Fprintf(os.Stderr, "  other processes used %.2f CPUs during run %d\n", o, run)
	return nil
}

// measureBuild measures the figures of one build alone: the overhead and
// the spread through its loadgen, each in a fresh child process, and the
// peak RSS of its flipbench.
func (c *checker) measureBuild(b build) error {
	if c.want["overhead"] {
		var o overheadResult
		if err := childJSON(b.loadcheck, "overhead", c.srv.url+"?sleep="+overheadSleep.String(), &o); err != nil {
			return fmt.Errorf("%s: overhead: %w", b.name, err)
		}
		c.add("overhead", b.name, o.LatencyP50-o.JobP50)
	}
	if c.want["spread"] {
		var s spreadResult
		if err := childJSON(b.loadcheck, "spread", c.srv.url+"?sleep="+burstSleep.String(), &s); err != nil {
			return fmt.Errorf("%s: spread: %w", b.name, err)
		}
		c.add("spread", b.name, results.Median(s.SpreadsMs))
		c.add("arrival spread", b.name, results.Median(s.ArrivalSpreadsMs))
		if len(s.SpreadsMs) > 0 && s.FirstArrivalMs > 0 { // a base build's child may not say
			c.add("first spread", b.name, s.SpreadsMs[0])
			c.add("first arrival spread", b.name, s.FirstArrivalMs)
		}
	}
	if c.want["rss"] {
		u, err := runLoad(b.flipbench, c.srv.url+"?sleep="+rssSleep.String(), "-n", strconv.Itoa(rssRequests))
		if err != nil {
			return fmt.Errorf("%s: rss: %w", b.name, err)
		}
		c.add("rss", b.name, float64(u.Maxrss)/1024)
	}
	return nil
}

// measureOverheadReferences measures the overhead of the columns the
// builds are judged against: the bare client, with where its time goes,
// and vegeta's CLI when there is one. They do not depend on the build,
// so once a run is enough.
func (c *checker) measureOverheadReferences() error {
	var o overheadResult
	if err := childJSON(c.self, "floor", c.srv.url+"?sleep="+overheadSleep.String(), &o); err != nil {
		return fmt.Errorf("bare client: overhead: %w", err)
	}
	c.add("overhead", bareColumn, o.LatencyP50-o.JobP50)
	for name, ms := range o.Phases {
		c.add("phase: "+name, bareColumn, ms)
	}
	if c.vegeta == "" {
		return nil
	}
	v, err := vegetaOverhead(c.vegeta, c.srv.url+"?sleep="+overheadSleep.String(), c.tmp)
	if err != nil {
		return fmt.Errorf("vegeta: overhead: %w", err)
	}
	c.add("overhead", "vegeta", v.LatencyP50-v.JobP50)
	return nil
}

// measureCPU measures requests per CPU-second without keep-alive, then
// with it, for each build in order and then for vegeta, so that each
// pair is compared under the same connection handling.
func (c *checker) measureCPU(order []build) error {
	for _, keep := range []bool{false, true} {
		fig := "cpu"
		if keep {
			fig = "cpu keepalive"
		}
		for _, b := range order {
			rps, err := c.srv.perCPUSecond(func(u string) (*syscall.Rusage, error) {
				args := []string{"--rate", strconv.Itoa(cpuRate) + "/s", "--duration", cpuDuration.String()}
				if keep {
					args = append(args, "--keepalive")
				}
				return runLoad(b.flipbench, u, args...)
			})
			if err != nil {
				return fmt.Errorf("%s: %s: %w", b.name, fig, err)
			}
			c.add(fig, b.name, rps)
		}
		if c.vegeta != "" {
			rps, err := c.srv.perCPUSecond(func(u string) (*syscall.Rusage, error) { return runVegeta(c.vegeta, u, keep) })
			if err != nil {
				return fmt.Errorf("vegeta: %s: %w", fig, err)
			}
			c.add(fig, "vegeta", rps)
		}
	}
	return nil
}

// columns are the table's columns: the builds, then the references that
// were measured (vegeta, the bare client).
func (c *checker) columns() []string {
	cols := []string{}
	for _, b := range c.builds {
		cols = append(cols, b.name)
	}
	if c.vegeta != "" && (c.want["cpu"] || c.want["overhead"]) {
		cols = append(cols, "vegeta")
	}
	if c.want["overhead"] {
		cols = append(cols, bareColumn)
	}
	return cols
}

// figureRow is one row of the table: the figure's key in checker.figs,
// what it measures, how its values print, and what it should be.
type figureRow struct{ fig, label, format, target string }

// figureRows are the table's rows, in order; a figure not measured is
// left out.
func figureRows() []figureRow {
	return []figureRow{
		{"overhead", fmt.Sprintf("p50 latency - p50 handler time, %d/s for %s, %s handler", overheadRate, overheadDuration, overheadSleep), "%+.2f ms", "<= 1 ms"},
		{"spread", fmt.Sprintf("send_spread_ms, burst of %d (median of %d bursts)", burstSize, bursts), "%.2f ms", "<= 5 ms"},
		{"arrival spread", fmt.Sprintf("the same bursts as the server saw them: first to last handler start (median)"), "%.2f ms", "(a check)"},
		{"first spread", "send_spread_ms of the first burst of a fresh process", "%.2f ms", "<= 3 ms"},
		{"first arrival spread", "the first burst as the server saw it", "%.2f ms", "<= 5 ms"},
		{"rss", fmt.Sprintf("peak RSS, `load -n %d`, %s handler", rssRequests, rssSleep), "%.0f MB", "<= 300 MB"},
		{"cpu", fmt.Sprintf("requests per CPU-second, %d/s for %s, no keep-alive", cpuRate, cpuDuration), "%.0f", ">= vegeta"},
		{"cpu keepalive", fmt.Sprintf("requests per CPU-second, %d/s for %s, keep-alive", cpuRate, cpuDuration), "%.0f", ">= vegeta"},
	}
}

// printTable prints the medians over the runs as a Markdown table on
// stdout, under the command line and how busy the machine was, then the
// bare client's phases when they were measured.
func (c *checker) printTable() {
	cols := c.columns()
	fmt.Printf("`%s` (medians of %d interleaved runs; other processes used %.2f CPUs (median; most %.2f) of %d during the runs)\n\n",
		commandLine(), *runs, results.Median(c.others), slices.Max(c.others), runtime.NumCPU())
	fmt.Printf("| figure | %s | target |\n", strings.Join(cols, " | "))
	fmt.Printf("|---|%s---|\n", strings.Repeat("---|", len(cols)))
	for _, r := range figureRows() {
		if c.figs[r.fig] == nil {
			continue
		}
		cells := []string{}
		for _, col := range cols {
			v, ok := c.figs[r.fig][col]
			if !ok {
				cells = append(cells, "")
				continue
			}
			cells = append(cells, fmt.Sprintf(r.format, results.Median(v)))
		}
		fmt.Printf("| %s | %s | %s |\n", r.label, strings.Join(cells, " | "), r.target)
	}
	if c.figs["phase: "+phaseNames[0]] != nil {
		c.printPhases()
	}
}

// printPhases prints the profile of the overhead's floor: where a bare
// client's time outside the handler goes (p50 of each phase, median over
// the runs; the p50s need not add up to the p50 of their sum).
func (c *checker) printPhases() {
	fmt.Printf("\nWhere the bare client's overhead goes:\n\n| phase | p50 |\n|---|---|\n")
	for _, name := range phaseNames {
		fmt.Printf("| %s | %.3f ms |\n", name, results.Median(c.figs["phase: "+name][bareColumn]))
	}
}

// buildBase builds this program and flipbench from the tree in dir, with
// this program's files laid over it: the baseline need not have them.
func buildBase(dir, tmp string) (build, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return build{}, err
	}
	srcs, err := filepath.Glob(filepath.Join("scripts", "loadcheck", "*.go"))
	if err != nil || len(srcs) == 0 {
		return build{}, errors.New("run loadcheck from the repository's root: no scripts/loadcheck/*.go here")
	}
	replace := map[string]string{}
	for _, s := range srcs {
		if strings.HasSuffix(s, "_test.go") {
			continue
		}
		from, err := filepath.Abs(s)
		if err != nil {
			return build{}, err
		}
		replace[filepath.Join(abs, s)] = from
	}
	overlay := filepath.Join(tmp, "overlay.json")
	b, _ := json.Marshal(map[string]any{"Replace": replace})
	if err := os.WriteFile(overlay, b, 0o644); err != nil {
		return build{}, err
	}
	bb := build{name: "base", loadcheck: filepath.Join(tmp, "loadcheck-base"), flipbench: filepath.Join(tmp, "flipbench-base")}
	fmt.Fprintf(os.Stderr, "building the baseline in %s\n", dir)
	if err := goBuild(abs, bb.loadcheck, "./scripts/loadcheck", "-overlay", overlay); err != nil {
		return build{}, err
	}
	if err := goBuild(abs, bb.flipbench, "./cmd/flipbench"); err != nil {
		return build{}, err
	}
	return bb, nil
}

func goBuild(dir, out, pkg string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s in %s: %w", pkg, dir, err)
	}
	return nil
}

// overheadResult is what `-child overhead` prints.
type overheadResult struct {
	LatencyP50 float64 `json:"latency_p50_ms"`
	JobP50     float64 `json:"job_p50_ms"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	// Phases is where the bare client's latency outside the handler goes,
	// the p50 of each phase (see phaseNames); nil for the others.
	Phases map[string]float64 `json:"phases_ms,omitempty"`
}

// phaseNames are the phases of a bare client's request outside the
// server's handler, in order, as httptrace sees them.
var phaseNames = []string{
	"connect (the dial, to the connection made)",
	"write (the request written)",
	"the server outside its handler, and the wake-ups (written to the first response byte, less the handler time)",
	"read and close (the first byte to the body read and the connection closed)",
}

// spreadResult is what `-child spread` prints: each burst's send spread
// as loadgen reports it, and as the server saw it (from the first
// handler to start to the last, by X-Vegeta-Attack, which names the
// round).
type spreadResult struct {
	SpreadsMs        []float64 `json:"spreads_ms"`
	ArrivalSpreadsMs []float64 `json:"arrival_spreads_ms"`
	// FirstArrivalMs is the arrival spread of the first burst, round-1:
	// the first of a fresh process, which the median hides.
	FirstArrivalMs float64 `json:"first_arrival_ms"`
	Errors         int     `json:"errors"`
}

// arrivalSpreads asks the test server at u for the spread of the
// arrivals of each attack (round) since the last call.
func arrivalSpreads(u string) (map[string]float64, error) {
	base, _, _ := strings.Cut(u, "?")
	resp, err := http.Get(strings.TrimSuffix(base, "/") + "/arrivals")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]float64
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// runChild measures one figure through the loadgen library, in this
// process, and prints it as JSON.
func runChild(kind, u string) error {
	var out any
	switch kind {
	case "overhead":
		sum, err := loadgen.Run(context.Background(), loadgen.Config{URL: u, Rate: loadgen.Rate{Freq: overheadRate, Per: time.Second}, Duration: overheadDuration})
		if err != nil {
			return err
		}
		var jobs []float64
		for _, r := range sum.Results {
			if r.OK() {
				jobs = append(jobs, r.JobMs)
			}
		}
		if len(jobs) == 0 {
			return fmt.Errorf("no request answered (%v)", sum.ErrorsByKind)
		}
		out = overheadResult{LatencyP50: sum.LatencyMs.P50, JobP50: results.Median(jobs), OK: sum.OK, Errors: sum.Errors}
	case "floor":
		o, err := bareClient(u)
		if err != nil {
			return err
		}
		out = o
	case "spread":
		if _, err := arrivalSpreads(u); err != nil { // forget earlier runs'
			return err
		}
		sum, err := loadgen.Run(context.Background(), loadgen.Config{URL: u, Requests: burstSize, Rounds: bursts, Pause: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		var s spreadResult
		for _, r := range sum.RoundStats {
			s.SpreadsMs = append(s.SpreadsMs, r.SendSpreadMs)
		}
		arrivals, err := arrivalSpreads(u)
		if err != nil {
			return err
		}
		for _, v := range arrivals {
			s.ArrivalSpreadsMs = append(s.ArrivalSpreadsMs, v)
		}
		s.FirstArrivalMs = arrivals["round-1"]
		s.Errors = sum.Errors
		out = s
	default:
		return fmt.Errorf("-child %q: want overhead, floor or spread", kind)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// bareColumn names the reference column: what a bare net/http client
// pays on this machine.
const bareColumn = "bare net/http"

// bareClient is the overhead figure's reference: the least a Go client
// can do at the same rate, a plain http.Client with a connection per
// request, a goroutine per tick and nothing else (no records, no
// results, no contexts of its own).
func bareClient(u string) (overheadResult, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	n := int(overheadDuration.Seconds() * overheadRate)
	type sample struct {
		lat, job float64
		phases   [4]float64
	}
	samples := make(chan sample, n)
	tick := time.NewTicker(time.Second / overheadRate)
	defer tick.Stop()
	var wg sync.WaitGroup
	for range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			var connected, wrote, first time.Time
			trace := &httptrace.ClientTrace{
				ConnectDone:          func(string, string, error) { connected = time.Now() },
				WroteRequest:         func(httptrace.WroteRequestInfo) { wrote = time.Now() },
				GotFirstResponseByte: func() { first = time.Now() },
			}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", u, nil)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				samples <- sample{lat: -1}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			end := time.Now()
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			job, _ := strconv.ParseFloat(strings.TrimSuffix(resp.Header.Get("X-Response-Time"), "ms"), 64)
			samples <- sample{ms(end.Sub(start)), job, [4]float64{
				ms(connected.Sub(start)), ms(wrote.Sub(connected)), ms(first.Sub(wrote)) - job, ms(end.Sub(first))}}
		}()
	}
	wg.Wait()
	close(samples)
	var o overheadResult
	var lats, jobs []float64
	phases := make([][]float64, len(phaseNames))
	for s := range samples {
		if s.lat < 0 {
			o.Errors++
			continue
		}
		o.OK++
		lats, jobs = append(lats, s.lat), append(jobs, s.job)
		for i := range phases {
			phases[i] = append(phases[i], s.phases[i])
		}
	}
	o.LatencyP50, o.JobP50 = results.Median(lats), results.Median(jobs)
	o.Phases = map[string]float64{}
	for i, name := range phaseNames {
		o.Phases[name] = results.Median(phases[i])
	}
	return o, nil
}

// vegetaOverhead measures the overhead figure of `vegeta attack` at the
// same rate, without keep-alive as flipbench's default: the latencies
// and X-Response-Time headers come from `vegeta encode` (JSON).
func vegetaOverhead(vegeta, u, tmp string) (overheadResult, error) {
	out := filepath.Join(tmp, "vegeta-results.bin")
	attack := exec.Command(vegeta, "attack", "-rate", strconv.Itoa(overheadRate)+"/s", "-duration", overheadDuration.String(),
		"-keepalive=false", "-output", out)
	attack.Stdin = strings.NewReader("POST " + u + "\n")
	if _, err := runChildProcess(attack); err != nil {
		return overheadResult{}, err
	}
	enc := exec.Command(vegeta, "encode", "-to", "json", out)
	enc.Stderr = os.Stderr
	b, err := enc.Output()
	if err != nil {
		return overheadResult{}, fmt.Errorf("vegeta encode: %w", err)
	}
	var o overheadResult
	var lats, jobs []float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Code    int                 `json:"code"`
			Latency int64               `json:"latency"`
			Headers map[string][]string `json:"headers"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return overheadResult{}, fmt.Errorf("vegeta encode: %w", err)
		}
		if r.Code != http.StatusOK {
			o.Errors++
			continue
		}
		o.OK++
		job, _ := strconv.ParseFloat(strings.TrimSuffix(http.Header(r.Headers).Get("X-Response-Time"), "ms"), 64)
		lats, jobs = append(lats, float64(r.Latency)/float64(time.Millisecond)), append(jobs, job)
	}
	o.LatencyP50, o.JobP50 = results.Median(lats), results.Median(jobs)
	if o.Errors > 0 {
		return o, fmt.Errorf("%d requests failed", o.Errors)
	}
	return o, nil
}

func childJSON(exe, kind, u string, v any) error {
	cmd := exec.Command(exe, "-child", kind, "-url", u)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return err
	}
	var errs int
	switch r := v.(type) {
	case *overheadResult:
		errs = r.Errors
	case *spreadResult:
		errs = r.Errors
	}
	if errs > 0 {
		return fmt.Errorf("%d requests failed", errs)
	}
	return nil
}

// runLoad runs `flipbench load` at u with args, throws its output away
// and returns its resource usage.
func runLoad(flipbench, u string, args ...string) (*syscall.Rusage, error) {
	args = append([]string{"load", "--url", u, "--quiet", "--format", "json"}, args...)
	return runChildProcess(exec.Command(flipbench, args...))
}

// runVegeta runs `vegeta attack` at u at the cpu figure's rate, its
// results thrown away, and returns its resource usage.
func runVegeta(vegeta, u string, keepAlive bool) (*syscall.Rusage, error) {
	cmd := exec.Command(vegeta, "attack", "-rate", strconv.Itoa(cpuRate)+"/s", "-duration", cpuDuration.String(),
		"-keepalive="+strconv.FormatBool(keepAlive))
	cmd.Stdin = strings.NewReader("POST " + u + "\n")
	return runChildProcess(cmd)
}

func runChildProcess(cmd *exec.Cmd) (*syscall.Rusage, error) {
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, stderr.String())
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage), nil
}

// server is the test server, a child process.
type server struct {
	cmd  *exec.Cmd
	in   io.Closer
	url  string
	hits string
}

// startServer runs this program as the test server (-serve) and reads
// the URL it announces. Its standard input is a lifeline: it exits when
// this process closes it or dies.
func startServer(self string) (*server, error) {
	cmd := exec.Command(self, "-serve")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("test server: %w", err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	return &server{cmd: cmd, in: in, url: addr + "/", hits: addr + "/hits"}, nil
}

func (s *server) stop() {
	s.in.Close()
	s.cmd.Wait()
}

// perCPUSecond runs a generator at the server with a 10 ms handler and
// returns the requests the server answered per second of the
// generator's CPU time (user and system).
func (s *server) perCPUSecond(gen func(url string) (*syscall.Rusage, error)) (float64, error) {
	before, err := s.hitCount()
	if err != nil {
		return 0, err
	}
	ru, err := gen(s.url + "?sleep=" + cpuSleep.String())
	if err != nil {
		return 0, err
	}
	after, err := s.hitCount()
	if err != nil {
		return 0, err
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return float64(after-before) / cpu.Seconds(), nil
}

func (s *server) hitCount() (int64, error) {
	resp, err := http.Get(s.hits)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// runServer is the test server: every request sleeps ?sleep= (a Go
// duration, 0 by default) and reports the time its handler took in
// X-Response-Time, "12.345ms"; /hits says how many requests it has
// answered. It exits when its standard input closes.
func runServer() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var hits atomic.Int64
	var mu sync.Mutex
	arrivals := map[string][2]time.Time{} // by X-Vegeta-Attack: the first and the last
	mux := http.NewServeMux()
	mux.HandleFunc("/hits", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, hits.Load())
	})
	mux.HandleFunc("/arrivals", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		spreads := map[string]float64{}
		for name, a := range arrivals {
			spreads[name] = float64(a[1].Sub(a[0])) / float64(time.Millisecond)
		}
		clear(arrivals)
		mu.Unlock()
		json.NewEncoder(w).Encode(spreads)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if name := r.Header.Get("X-Vegeta-Attack"); name != "" {
			mu.Lock()
			a, ok := arrivals[name]
			if !ok || start.Before(a[0]) {
				a[0] = start
			}
			if start.After(a[1]) {
				a[1] = start
			}
			arrivals[name] = a
			mu.Unlock()
		}
		d, _ := time.ParseDuration(r.URL.Query().Get("sleep"))
		io.Copy(io.Discard, r.Body)
		time.Sleep(d)
		hits.Add(1)
		w.Header().Set("X-Response-Time", fmt.Sprintf("%.3fms", float64(time.Since(start))/float64(time.Millisecond)))
		io.WriteString(w, "ok\n")
	})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0) // the parent is gone
	}()
	fmt.Printf("listening on http://%s\n", ln.Addr())
	return (&http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}).Serve(ln)
}

// machineBusy reads the machine's CPU time so far from /proc/stat: busy
// (neither idle nor iowait) and in all.
type cpuStat struct {
	busy, total time.Duration
	at          time.Time
}

func machineBusy() cpuStat {
	st := cpuStat{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return st
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return st
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		st.total += time.Duration(v) * tick
		if i != 3 && i != 4 { // idle, iowait
			st.busy += time.Duration(v) * tick
		}
	}
	return st
}

// ourCPU is the CPU time of this process, of its waited-for children
// (the generators) and of the test server, still running, whose pid is
// server (0: none).
func ourCPU(server int) time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	d := time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
	if server > 0 {
		// /proc/PID/stat: utime and stime, in ticks, are fields 14 and 15,
		// counted after the command's closing parenthesis.
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", server))
		if _, rest, ok := strings.Cut(string(b), ") "); ok {
			if f := strings.Fields(rest); len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				d += time.Duration(ut+st) * 10 * time.Millisecond
			}
		}
	}
	return d
}

// othersCPUs is how many CPUs the other processes kept busy, on average,
// between two readings, given the CPU time our own used meanwhile.
func othersCPUs(a, b cpuStat, ours time.Duration) float64 {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return 0
	}
	return max(0, float64(b.busy-a.busy-ours)/float64(wall))
}

// waitQuiet waits until the other processes keep fewer than limit CPUs
// busy over 5 s, or until max has passed.
func waitQuiet(limit float64, max time.Duration, server int) {
	deadline := time.Now().Add(max)
	for {
		a, oa := machineBusy(), ourCPU(server)
		time.Sleep(5 * time.Second)
		b, ob := machineBusy(), ourCPU(server)
		o := othersCPUs(a, b, ob-oa)
		if o < limit {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "  still %.2f CPUs busy after %s: going on\n", o, max)
			return
		}
		fmt.Fprintf(os.Stderr, "  waiting: other processes use %.2f CPUs\n", o)
	}
}

func commandLine() string {
	args := []string{"go run ./scripts/loadcheck"}
	flag.Visit(func(f *flag.Flag) { args = append(args, "-"+f.Name+" "+f.Value.String()) })
	return strings.Join(args, " ")
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadcheck:", err)
		os.Exit(1)
	}
}
