//go:build linux

package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flipbench/flipbench/fixtures"
)

// TestNoSilentSurprises runs the real binary on what users of peer tools
// try first at the edges: each either works as they would expect, tested
// elsewhere, or exits 2 with one line, before any work.
func TestNoSilentSurprises(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loadFile := filepath.Join(dir, "load.json")
	if err := os.WriteFile(loadFile, []byte(`{"schema": "flipbench/load/v1", "n": 10}`), 0o644); err != nil {
		t.Fatal(err)
	}
	source := filepath.Join(dir, "main.go")
	if err := os.WriteFile(source, []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const nowhere = "http://127.0.0.1:1/flip" // nothing listens: no request may be needed
	tests := []struct {
		name string
		args []string
		want string // the start of the one line on stderr
	}{
		{"-n with --rate", []string{"load", "-n", "1", "--rate", "5/s", "--duration", "2s", "--url", nowhere}, "flipbench: -n sets a burst's size"},
		{"-n with -c", []string{"load", "-n", "1", "-c", "2", "--duration", "2s", "--url", nowhere}, "flipbench: -n sets a burst's size"},
		{"-c without --duration", []string{"load", "-c", "4", "--url", nowhere}, "flipbench: --rate and -c need --duration"},
		{"--rate and -c", []string{"load", "-c", "4", "--rate", "5/s", "--duration", "2s", "--url", nowhere}, "flipbench: --rate (open loop) and -c (closed loop)"},
		{"-c 0", []string{"load", "-c", "0", "--duration", "2s", "--url", nowhere}, `flipbench: invalid argument "0" for "-c, --concurrency" flag: must be >= 1`},
		{"bad header", []string{"load", "-H", "no colon", "--url", nowhere}, `flipbench: -H: "no colon": want 'Name: value'`},
		{"bad percentile", []string{"load", "--percentiles", "50,101", "--url", nowhere}, `flipbench: invalid argument "50,101" for "--percentiles" flag: percentile 101`},
		{"missing cacert", []string{"load", "--cacert", filepath.Join(dir, "no.pem"), "--url", "https://127.0.0.1:1/flip"}, "flipbench: --cacert: open"},
		{"standard --quality 0", []string{"standard", "--quality", "0"}, `flipbench: invalid argument "0" for "--quality" flag: must be between 1 and 100`},
		{"flip --quality 101", []string{"flip", "fixture:" + fixtures.SmallJPEG, "--quality", "101"}, `flipbench: invalid argument "101" for "--quality" flag: must be between 1 and 100`},
		{"typo", []string{"lod"}, `flipbench: unknown command "lod" for "flipbench"; did you mean load?`},
		{"unknown shell", []string{"completion", "nushell"}, `flipbench: completion: unknown shell "nushell": want bash`},
		{"unknown help topic", []string{"help", "frob"}, `flipbench: no help for "frob"`},
		{"-v on the root", []string{"-v", "load"}, "flipbench: unknown shorthand flag: 'v' in -v"},
		{"-v and --quiet", []string{"load", "-v", "-q", "--url", nowhere}, "flipbench: -v and --quiet: give one"},
		// Every output path is checked before the first request.
		{"bench --out nowhere", []string{"bench", "--quick", "--out", "/nonexistent/run.json"}, "flipbench: --out /nonexistent/run.json: cannot write in /nonexistent: no such file or directory"},
		{"bench --plot nowhere", []string{"bench", "--quick", "--plot", "/nonexistent/p.html"}, "flipbench: --plot /nonexistent/p.html: cannot write in /nonexistent"},
		{"bench --logs nowhere", []string{"bench", "--quick", "--logs", "/nonexistent/l.jsonl"}, "flipbench: --logs /nonexistent/l.jsonl: cannot write in /nonexistent"},
		{"bench --out a directory", []string{"bench", "--quick", "--out", dir}, "flipbench: --out " + dir + ": is a directory"},
		{"bench --out over a load file", []string{"bench", "--quick", "--out", loadFile}, "flipbench: --out " + loadFile + ": refusing to overwrite a flipbench/load/v1 file with a flipbench/run file"},
		{"bench --out over a source file", []string{"bench", "--quick", "--out", source}, "flipbench: --out " + source + ": refusing to overwrite not a flipbench JSON file"},
		{"bench --out - with json", []string{"bench", "--quick", "--out", "-", "--format", "json"}, "flipbench: --out - and --format json would both write JSON to stdout"},
		{"load --out nowhere", []string{"load", "--out", "/nonexistent/l.json", "--url", nowhere}, "flipbench: --out /nonexistent/l.json: cannot write in /nonexistent"},
		{"load --plot nowhere", []string{"load", "--plot", "/nonexistent/l.svg", "--url", nowhere}, "flipbench: --plot /nonexistent/l.svg: cannot write in /nonexistent"},
		{"load --results nowhere", []string{"load", "--results", "/nonexistent/r.bin", "--url", nowhere}, "flipbench: --results /nonexistent/r.bin: cannot write in /nonexistent"},
		{"load --out and --plot alike", []string{"load", "--out", filepath.Join(dir, "x"), "--results", filepath.Join(dir, "x"), "--url", nowhere}, "flipbench: --out and --results both write"},
		{"flip OUT nowhere", []string{"flip", "fixture:" + fixtures.SmallJPEG, "/nonexistent/out.jpg"}, "flipbench: OUT /nonexistent/out.jpg: cannot write in /nonexistent"},
		{"bench --queue-reply without queue", []string{"bench", "--quick", "--queue-reply", "async"}, "flipbench: --queue-reply is for the queue arms: add queue to --modes"},
		{"bench --modes without standard", []string{"bench", "--quick", "--modes", "cluster,queue"}, "flipbench: modes need standard"},
		{"bench --modes standard alone", []string{"bench", "--quick", "--modes", "standard"}, "flipbench: modes need cluster or queue beside standard"},
		{"bench --assert on an arm it lacks", []string{"bench", "--quick", "--modes", "standard,queue", "--assert", "cluster.p99<=5s"}, `flipbench: --assert: assertion "cluster.p99<=5s": unknown metric "cluster.p99": the run has no arm cluster (its arms: standard, queue)`},
		{"bench --modes frob", []string{"bench", "--quick", "--modes", "frob"}, `flipbench: invalid argument "frob" for "--modes" flag`},
		{"bench --modes with commands", []string{"bench", "--modes", "all", "--standard-cmd", "true", "--cluster-cmd", "true"}, "flipbench: --modes chooses flipbench's own servers"},
		{"load --poll without --await", []string{"load", "--poll", "1s", "--url", nowhere}, "flipbench: --poll needs --await (polling)"},
		{"load --await=events --poll", []string{"load", "--await=events", "--poll", "1s", "--url", nowhere}, "flipbench: --poll needs --await (polling)"},
		{"load --await=frob", []string{"load", "--await=frob", "--url", nowhere}, `flipbench: invalid argument "frob" for "--await" flag`},
		{"load --poll 0", []string{"load", "--await", "--poll", "0s", "--url", nowhere}, "flipbench: --poll must be > 0"},
		{"report --out nowhere", []string{"report", loadFile, "--out", "/nonexistent/m.json"}, "flipbench: --out /nonexistent/m.json: cannot write in /nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCLI(t, nil, tt.args...)
			if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, one line starting %q", code, stdout, stderr, tt.want)
			}
			// Before the work: a bench announces its arms when it starts
			// them.
			if regexp.MustCompile(`(?m)^bench:`).MatchString(stderr) {
				t.Errorf("the work started before the error: %q", stderr)
			}
		})
	}
	if b, err := os.ReadFile(loadFile); err != nil || !bytes.Contains(b, []byte("flipbench/load/v1")) {
		t.Errorf("the load file was touched: %q, %v", b, err)
	}
}

// TestEnvIsPerCommand: a load variable reaches load, not bench, and the
// short name users type works.
func TestEnvIsPerCommand(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	env := []string{"FLIPBENCH_LOAD_URL=" + srv.URL + "/flip", "FLIPBENCH_LOAD_N=3", "FLIPBENCH_LOAD_FORMAT=csv"}
	stdout, stderr, code := runCLI(t, env, "load", "--quiet")
	if code != 0 || hits.Load() != 3 || !strings.HasPrefix(stdout, "round,seq,") {
		t.Errorf("load: exit %d, %d requests, stdout %.40q; want 0, 3 from FLIPBENCH_LOAD_N, csv: %s", code, hits.Load(), stdout, stderr)
	}
	// bench in a fresh directory: the load variables do not reach it
	// (FLIPBENCH_LOAD_URL would be refused, csv is no bench format), and
	// it writes no run file unasked.
	dir := t.TempDir()
	cmd := exec.Command(bin, "bench", "--quick", "--rounds", "1", "--quiet")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench with load's variables: %v\n%s", err, errOut.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("bench --quiet wrote to stderr: %q", errOut.String())
	}
	if hits.Load() != 3 {
		t.Errorf("bench sent %d requests to load's URL", hits.Load()-3)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bench wrote %v unasked", entries[0].Name())
	}
	// A misspelt variable of the command, or a flag set twice by its
	// two names, is refused (both used to pass in silence).
	for _, env := range [][]string{{"FLIPBENCH_LOAD_REQUSTS=3"}, {"FLIPBENCH_LOAD_N=2", "FLIPBENCH_LOAD_REQUESTS=3"}} {
		_, stderr, code := runCLI(t, env, "load", "--quiet", "--url", srv.URL+"/flip")
		if code != 2 || !strings.Contains(stderr, strings.Split(env[len(env)-1], "=")[0]) {
			t.Errorf("load with %v: exit %d, %q; want exit 2 naming the variable", env, code, stderr)
		}
	}
	// The old unscoped names are not read, and say so.
	_, stderr, _ = runCLI(t, []string{"FLIPBENCH_URL=" + srv.URL + "/flip"}, "load", "-n", "1", "--quiet", "--url", srv.URL+"/flip")
	if !strings.Contains(stderr, "FLIPBENCH_URL is not read; set FLIPBENCH_LOAD_URL") {
		t.Errorf("no warning for FLIPBENCH_URL: %q", stderr)
	}
	// A short flag's old name too (FLIPBENCH_N used to pass in silence).
	_, stderr, _ = runCLI(t, []string{"FLIPBENCH_N=1"}, "load", "-n", "1", "--quiet", "--url", srv.URL+"/flip")
	if !strings.Contains(stderr, "FLIPBENCH_N is not read; set FLIPBENCH_LOAD_N") {
		t.Errorf("no warning for FLIPBENCH_N: %q", stderr)
	}
	// Each command's help names its variables.
	help, _, _ := runCLI(t, nil, "load", "--help")
	for _, v := range []string{"FLIPBENCH_LOAD_URL", "FLIPBENCH_LOAD_REQUESTS or FLIPBENCH_LOAD_N", "FLIPBENCH_LOAD_HEADER or FLIPBENCH_LOAD_H"} {
		if !strings.Contains(help, v) {
			t.Errorf("load --help does not name %s", v)
		}
	}
}

// TestLoadClosedLoopWithHeaders: -H arrives on every request, Host
// included, and -c 4 never has more than 4 requests in flight.
func TestLoadClosedLoopWithHeaders(t *testing.T) {
	t.Parallel()
	var inflight, peak, total, missing atomic.Int64
	var hosts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		total.Add(1)
		if r.Header.Get("X-Test") != "1" {
			missing.Add(1)
		}
		hosts.Store(r.Host, true)
		time.Sleep(20 * time.Millisecond) // a job, so that clients overlap
	}))
	defer srv.Close()
	stdout, stderr, code := runCLI(t, nil, "load", "-H", "X-Test: 1", "-H", "Host: flip.example", "-c", "4", "--duration", "3s",
		"--url", srv.URL+"/flip", "--format", "json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum struct {
		Mode        string `json:"mode"`
		N           int    `json:"n"`
		Concurrency int    `json:"concurrency"`
		Requests    int    `json:"requests"`
		Latency     struct {
			P95 float64 `json:"p95"`
		} `json:"latency_ms"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if missing.Load() != 0 || total.Load() < 20 || int64(sum.Requests) != total.Load() {
		t.Errorf("%d of %d requests without X-Test; summary counts %d", missing.Load(), total.Load(), sum.Requests)
	}
	if p := peak.Load(); p > 4 || p < 2 {
		t.Errorf("peak concurrency %d, want at most 4 (and clients that overlap)", p)
	}
	hosts.Range(func(k, _ any) bool {
		if k != "flip.example" {
			t.Errorf("a request came for host %v, want flip.example", k)
		}
		return true
	})
	if sum.Mode != "closed" || sum.Concurrency != 4 || sum.Latency.P95 <= 0 {
		t.Errorf("summary mode %q concurrency %d p95 %v; want closed, 4, a p95", sum.Mode, sum.Concurrency, sum.Latency.P95)
	}
}

// TestLoadPrintsItsSummaryWhenTheOutputFails: the output directory is
// checked, then vanishes during the run; the summary still reaches stdout.
func TestLoadPrintsItsSummaryWhenTheOutputFails(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "load", "-n", "3", "--url", srv.URL+"/flip", "--out", filepath.Join(dir, "load.json"), "--quiet")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the burst to arrive", func() bool { return arrived.Load() == 3 })
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	release <- struct{}{}
	release <- struct{}{}
	release <- struct{}{}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit %v, want 1", err)
	}
	if !regexp.MustCompile(`\|\s*ok\s*\|\s*3 \|`).MatchString(out.String()) {
		t.Errorf("no summary on stdout:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "load.json") {
		t.Errorf("stderr does not say which file failed: %q", errOut.String())
	}
}

// TestOutDashIsStdout: --out - writes the JSON to stdout and the table to
// stderr, and creates no file named "-".
func TestOutDashIsStdout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "load", "-n", "2", "--url", srv.URL+"/flip", "--out", "-", "--quiet")
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var sum struct {
		Schema string `json:"schema"`
		OK     int    `json:"ok"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Schema != "flipbench/load/v1" || sum.OK != 2 {
		t.Errorf("stdout is not the load file: %v, %+v", err, sum)
	}
	if !strings.Contains(errOut.String(), "latency p95") {
		t.Errorf("the table is not on stderr: %q", errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Error("a file named - was written")
	}
}

// TestLoadProgressOffATerminal: a rate run of several seconds prints a
// line every few seconds, so that a CI log is not silent until the end;
// --quiet prints none.
func TestLoadProgressOffATerminal(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, stderr, code := runCLI(t, nil, "load", "--rate", "10/s", "--duration", "7s", "--url", srv.URL+"/flip")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`(?m)^load: \d+/70 done, 0 errors so far$`).MatchString(stderr) ||
		!strings.Contains(stderr, "load: 70/70 done, 0 errors\n") {
		t.Errorf("no progress line during the run, or none at its end:\n%s", stderr)
	}
	_, stderr, code = runCLI(t, nil, "load", "-n", "3", "--quiet", "--url", srv.URL+"/flip")
	if code != 0 || stderr != "" {
		t.Errorf("--quiet: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
}

// TestBenchServerThatExits: a server command that exits at once is named
// with its exit status, not "<nil>".
func TestBenchServerThatExits(t *testing.T) {
	t.Parallel()
	_, stderr, code := runCLI(t, nil, "bench", "--standard-cmd", "true", "--cluster-cmd", "true", "--rounds", "1", "--url", "http://127.0.0.1:1/flip")
	if code != 1 || !strings.Contains(stderr, `"true" exited before http://127.0.0.1:1/flip answered (exit status 0)`) || strings.Contains(stderr, "<nil>") {
		t.Errorf("exit %d: %q", code, stderr)
	}
}

// TestIgnoredFlagsAreRefused: flags that would be ignored are refused
// with exit 2 and one line (issue 20: each used to exit 0), and every
// bad address is bad usage.
func TestIgnoredFlagsAreRefused(t *testing.T) {
	t.Parallel()
	source := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(source, []byte("not a pem\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const nowhere = "http://127.0.0.1:1/flip"
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"--pause with one round", []string{"load", "--pause", "1s", "--url", nowhere}, "flipbench: --pause is the pause between rounds, and one round has none"},
		{"--insecure on http", []string{"load", "--insecure", "--url", nowhere}, "flipbench: --insecure and --cacert are for https:// URLs"},
		{"--cacert on http", []string{"load", "--cacert", source, "--url", nowhere}, "flipbench: --insecure and --cacert are for https:// URLs"},
		{"--queue under shared", []string{"cluster", "--sched", "shared", "--queue", "5"}, "flipbench: --queue bounds the requests the supervisor holds under --sched rr and free; under shared"},
		{"--queue under reuseport", []string{"standard", "--sched", "reuseport", "--queue", "5"}, "flipbench: --queue bounds the requests the supervisor holds under --sched rr and free; under reuseport"},
		{"--max-body 0", []string{"standard", "--max-body", "0"}, `flipbench: invalid argument "0" for "--max-body" flag: must be at least 1 byte`},
		{"port 99999", []string{"standard", "--addr", "127.0.0.1:99999"}, "flipbench: --addr: address 99999: invalid port"},
		{"nats port 99999", []string{"queue", "--nats-addr", "127.0.0.1:99999"}, "flipbench: --nats-addr: address 99999: invalid port"},
	} {
		stdout, stderr, code := runCLI(t, nil, tt.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and one line starting %q", tt.name, code, stdout, stderr, tt.want)
		}
	}
}
