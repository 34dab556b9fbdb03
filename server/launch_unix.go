//go:build linux || darwin

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Instance is a flipbench server started by [Launch].
type Instance struct {
	// URL is the server's base URL, as it announced it.
	URL string
	// PID is the supervisor's process ID.
	PID int
	// Workers is how many workers became ready.
	Workers int

	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	lifeline *os.File // write end, held open for the server's lifetime
	group    bool     // signal the whole process group (LaunchCommand)
}

// Launch starts `flipbench standard|cluster` on a free loopback port,
// reads the address it announces, waits until every worker has logged
// that it is online and /healthz answers, and returns. It never sleeps
// for a fixed time. If ctx ends or the timeout passes first, it kills the
// server and returns an error with the server's last log line.
func Launch(ctx context.Context, cfg LaunchConfig) (*Instance, error) {
	if cfg.Mode != "standard" && cfg.Mode != "cluster" {
		return nil, fmt.Errorf("launch: mode must be standard or cluster, got %q", cfg.Mode)
	}
	exe := cfg.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("launch: %w", err)
		}
	}
	want := 1
	args := []string{cfg.Mode, "--addr", "127.0.0.1:0", "--log-format", "json", "--threads", strconv.Itoa(cfg.Config.Threads)}
	if cfg.Mode == "cluster" {
		want = cfg.Workers
		if want == 0 {
			want = runtime.NumCPU()
		}
		args = append(args, "--workers", strconv.Itoa(want))
	}
	c := cfg.Config
	for _, f := range []struct{ name, value string }{
		{"--image", c.Image}, {"--tmp-dir", c.TmpDir},
		{"--quality", itoaOrEmpty(c.Quality)}, {"--max-pixels", itoaOrEmpty(c.MaxPixels)},
		{"--max-body", itoaOrEmpty(int(c.MaxBody))},
	} {
		if f.value != "" {
			args = append(args, f.name, f.value)
		}
	}

	cmd := exec.Command(exe, args...)
	// Its own process group: a Ctrl-C meant for us reaches it only
	// through Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	// Everything the server does is in its flags: FLIPBENCH_* settings
	// meant for this command must not change the servers unrecorded.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLIPBENCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// A lifeline, as between supervisor and workers: if we die, even by
	// SIGKILL, the server reads EOF and stops its workers.
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer lifeR.Close()
	cmd.ExtraFiles = []*os.File{lifeR}
	cmd.Env = append(cmd.Env, ParentLifelineEnv+"=3")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		lifeW.Close()
		return nil, fmt.Errorf("launch %s: %w", cfg.Mode, err)
	}
	inst := &Instance{PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{}), lifeline: lifeW}

	urlc := make(chan string, 1)
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case urlc <- u:
				default:
				}
			}
		}
	})
	online := make(chan struct{}, want)
	var lastMu sync.Mutex
	var last string
	logs := cfg.Stderr
	if logs == nil {
		logs = io.Discard
	}
	readers.Go(func() {
		seen := map[float64]bool{}
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logs, line)
			var ev struct {
				Msg    string  `json:"msg"`
				Worker float64 `json:"worker"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Msg == "worker online" && !seen[ev.Worker] {
				seen[ev.Worker] = true
				online <- struct{}{}
			}
			lastMu.Lock()
			last = line
			lastMu.Unlock()
		}
	})
	go func() {
		readers.Wait() // Wait must not close the pipes while we read them
		inst.err = cmd.Wait()
		lifeW.Close()
		close(inst.done)
	}()

	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultLaunchTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	fail := func(why string) (*Instance, error) {
		inst.kill()
		lastMu.Lock()
		defer lastMu.Unlock()
		if last != "" {
			return nil, fmt.Errorf("launch %s: %s; last log line: %s", cfg.Mode, why, last)
		}
		return nil, fmt.Errorf("launch %s: %s", cfg.Mode, why)
	}
	for inst.URL == "" || inst.Workers < want {
		select {
		case inst.URL = <-urlc:
		case <-online:
			inst.Workers++
		case <-inst.done:
			return fail(fmt.Sprintf("server exited before it was ready (%v)", inst.err))
		case <-deadline.C:
			return fail(fmt.Sprintf("%d of %d workers ready after %s", inst.Workers, want, timeout))
		case <-ctx.Done():
			return fail(ctx.Err().Error())
		}
	}
	// The workers say they are online; one answer proves the socket.
	err = pollURL(ctx, inst.URL+"/healthz", func(code int) bool { return code == http.StatusOK }, deadline.C, inst.done)
	switch {
	case err == nil:
		return inst, nil
	case errors.Is(err, errExited):
		return fail(fmt.Sprintf("server exited before it was ready (%v)", inst.err))
	case errors.Is(err, errDeadline):
		return fail(fmt.Sprintf("/healthz did not answer within %s (%v)", timeout, err))
	}
	return fail(err.Error())
}

// Why pollURL gave up.
var (
	errExited   = errors.New("the process exited")
	errDeadline = errors.New("deadline passed")
)

// pollURL GETs url until an answer's status satisfies ok, polling every
// 20 ms; it gives up when ctx is done, deadline fires or done closes.
func pollURL(ctx context.Context, url string, ok func(status int) bool, deadline <-chan time.Time, done <-chan struct{}) error {
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-deadline:
			return fmt.Errorf("%w: %w", errDeadline, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return errExited
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
}

// Stop stops the server as a user would: SIGTERM, then SIGKILL if it has
// not exited when ctx is done. It returns an error if the server did not
// exit cleanly.
func (i *Instance) Stop(ctx context.Context) error {
	i.signal(syscall.SIGTERM)
	select {
	case <-i.done:
	case <-ctx.Done():
		i.kill()
		return fmt.Errorf("server pid %d did not stop in time; killed it", i.PID)
	}
	if i.group {
		// The shell is gone; what it started gets a moment more, then
		// SIGKILL, so that nothing of it outlives the bench.
		wait, cancel := context.WithTimeout(ctx, groupGrace)
		defer cancel()
		if !i.groupGone(wait) {
			syscall.Kill(-i.PID, syscall.SIGKILL)
		}
	}
	if i.group && errors.Is(i.err, exec.ErrWaitDelay) {
		return nil // a child kept the output pipe open; the group is gone now
	}
	var exit *exec.ExitError
	if errors.As(i.err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); i.group && ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil // a shell or a server that simply dies of SIGTERM
		}
		return fmt.Errorf("server pid %d: %w", i.PID, i.err)
	}
	return i.err
}

// Done is closed when the server has exited.
func (i *Instance) Done() <-chan struct{} { return i.done }

func (i *Instance) kill() {
	i.signal(syscall.SIGKILL)
	<-i.done
}

// groupGone is how long the rest of a command's process group may take to
// exit once its shell has.
const groupGrace = 5 * time.Second

// groupGone waits until no process is left in the instance's process
// group, or ctx is done.
func (i *Instance) groupGone(ctx context.Context) bool {
	for syscall.Kill(-i.PID, 0) == nil {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
	return true
}

func (i *Instance) signal(sig syscall.Signal) {
	if i.group {
		syscall.Kill(-i.PID, sig) // the shell and everything it started
		return
	}
	i.cmd.Process.Signal(sig)
}

func itoaOrEmpty(v int) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(v)
}

// ParentLifelineEnv names the inherited file descriptor whose EOF tells a
// server started by [Launch] that its parent is gone.
const ParentLifelineEnv = "FLIPBENCH_PARENT_LIFELINE"

// WatchParent returns a context that is cancelled when the process that
// launched this one dies, if it was started by [Launch]; otherwise ctx.
// A supervisor uses it to stop its workers gracefully instead of running
// on, orphaned, after a benchmark was killed.
func WatchParent(ctx context.Context) (context.Context, context.CancelFunc) {
	fd, err := strconv.Atoi(os.Getenv(ParentLifelineEnv))
	if err != nil || fd < 3 {
		return context.WithCancel(ctx)
	}
	os.Unsetenv(ParentLifelineEnv) // not for the workers
	syscall.CloseOnExec(fd)        // nor their file table
	f := os.NewFile(uintptr(fd), "parent-lifeline")
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, f)
		f.Close()
		cancel()
	}()
	return ctx, cancel
}

// CommandConfig describes any HTTP server to benchmark, started by a
// shell command: the article's Node app, a gunicorn or PM2 setup.
type CommandConfig struct {
	// Command is run with sh -c, in a process group of its own.
	Command string
	// URL is polled until it answers (any HTTP status counts).
	URL string
	// Stderr receives the command's output. Nil discards it.
	Stderr io.Writer
	// Timeout bounds the wait for the URL to answer. Zero means
	// [DefaultLaunchTimeout].
	Timeout time.Duration
}

// LaunchCommand starts cfg.Command and waits until cfg.URL answers. The
// returned Instance's Stop sends SIGTERM to the command's whole process
// group, then SIGKILL, so that a shell and the server it started both go.
func LaunchCommand(ctx context.Context, cfg CommandConfig) (*Instance, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	// A server left on the port would answer for the new one, and be
	// measured in its place.
	if resp, err := client.Get(cfg.URL); err == nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%s already answers before %q starts: stop whatever serves it first", cfg.URL, cfg.Command)
	}
	cmd := exec.Command("/bin/sh", "-c", cfg.Command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := cfg.Stderr
	if out == nil {
		// A file, not io.Discard: with a pipe, a background child that
		// keeps it open would hold up Wait.
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		defer devnull.Close() // the child has its own copy
		out = devnull
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", cfg.Command, err)
	}
	inst := &Instance{URL: cfg.URL, PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{}), group: true}
	go func() {
		inst.err = cmd.Wait()
		close(inst.done)
	}()
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultLaunchTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	err := pollURL(ctx, cfg.URL, func(int) bool { return true }, deadline.C, inst.done) // any answer
	switch {
	case err == nil:
		return inst, nil
	case errors.Is(err, errExited):
		syscall.Kill(-inst.PID, syscall.SIGKILL) // whatever it left behind
		return nil, fmt.Errorf("%q exited before %s answered (%v)", cfg.Command, cfg.URL, inst.err)
	case errors.Is(err, errDeadline):
		inst.kill()
		return nil, fmt.Errorf("%s did not answer within %s of starting %q (%v)", cfg.URL, timeout, cfg.Command, err)
	}
	inst.kill()
	return nil, err
}
