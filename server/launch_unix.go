//go:build linux || darwin

package server

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The file descriptors a launched supervisor inherits (0-2 are stdio).
const (
	fdLaunchLifeline = 3
	fdLaunchStatus   = 4
)

// Instance is a flipbench server started by [Launch].
type Instance struct {
	// URL is the server's base URL, as it reported it.
	URL string
	// PID is the supervisor's process ID.
	PID int
	// WorkerPIDs are the workers' process IDs when the server became
	// ready, by worker index.
	WorkerPIDs []int

	cmd  *exec.Cmd
	spec launchSpec
	done chan struct{}
	err  error
}

// Launch starts a flipbench supervisor with cfg as its spec (see
// [LaunchEnv]) on a free loopback port, and returns once the supervisor
// has reported its address and every worker has reported ready. It never
// sleeps for a fixed time. If ctx ends, the server exits or the timeout
// passes first, it kills the server and returns an error that quotes the
// server's last log line.
func Launch(ctx context.Context, cfg LaunchConfig) (*Instance, error) {
	workers := cmp.Or(cfg.Workers, runtime.NumCPU())
	last := &lastLine{w: cmp.Or[io.Writer](cfg.Stderr, io.Discard)}
	inst, events, err := startLaunched(cfg, workers, last)
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", cfg.Name, err)
	}
	timeout := cmp.Or(cfg.Timeout, DefaultLaunchTimeout)
	if err := inst.waitReady(ctx, events, timeout); err != nil {
		inst.kill()
		if l := last.String(); l != "" {
			return nil, fmt.Errorf("launch %s: %w; last log line: %s", cfg.Name, err, l)
		}
		return nil, fmt.Errorf("launch %s: %w", cfg.Name, err)
	}
	// Keep reading: a worker restarted later reports again, and a
	// supervisor whose status pipe filled up would block on it.
	go func() {
		for range events {
		}
	}()
	return inst, nil
}

// startLaunched starts the supervisor process with its spec and its two
// pipes, and returns the events it reports.
func startLaunched(cfg LaunchConfig, workers int, stderr io.Writer) (*Instance, <-chan launchEvent, error) {
	exe := cfg.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, nil, err
		}
	}
	spec, err := cfg.spec(workers)
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(exe, cmp.Or(cfg.Entry, EntrySupervise))
	// Its own process group: a Ctrl-C meant for us reaches it only
	// through Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	// Everything the server does is in its spec: FLIPBENCH_* settings
	// meant for the launcher must not change the server unrecorded.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLIPBENCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, LaunchEnv+"="+string(raw))
	cmd.Stderr = stderr

	// A lifeline, as between supervisor and workers: if we die, even by
	// SIGKILL, the server reads EOF and stops its workers.
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer lifeR.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		lifeW.Close()
		return nil, nil, err
	}
	cmd.ExtraFiles = []*os.File{lifeR, statusW} // fds 3, 4
	err = cmd.Start()
	statusW.Close() // the child has its copy; EOF comes when it exits
	if err != nil {
		lifeW.Close()
		statusR.Close()
		return nil, nil, err
	}
	inst := &Instance{PID: cmd.Process.Pid, WorkerPIDs: make([]int, workers), cmd: cmd, done: make(chan struct{}), spec: spec}
	events := make(chan launchEvent)
	go readEvents(statusR, events, inst.done)
	go func() {
		inst.err = cmd.Wait()
		lifeW.Close()
		close(inst.done)
	}()
	return inst, events, nil
}

// waitReady reads events until the server has reported its URL and
// every worker ready.
func (i *Instance) waitReady(ctx context.Context, events <-chan launchEvent, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ready := 0
	for i.URL == "" || ready < len(i.WorkerPIDs) {
		select {
		case ev := <-events:
			switch {
			case ev.Event == eventListening:
				if err := i.spec.checkEcho(ev.Extra); err != nil {
					return err
				}
				i.URL = ev.URL
			case ev.Event == eventWorkerReady && ev.Worker >= 0 && ev.Worker < len(i.WorkerPIDs):
				if i.WorkerPIDs[ev.Worker] == 0 {
					ready++
				}
				i.WorkerPIDs[ev.Worker] = ev.PID
			}
		case <-i.done:
			return fmt.Errorf("server exited before it was ready (%s)", exitStatus(i.err))
		case <-deadline.C:
			return fmt.Errorf("%d of %d workers ready after %s", ready, len(i.WorkerPIDs), timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// readEvents decodes the status pipe into events until EOF, then closes
// r and events. Lines it cannot decode are skipped; done stops a send
// nobody waits for.
func readEvents(r io.ReadCloser, events chan<- launchEvent, done <-chan struct{}) {
	defer close(events)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var ev launchEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		select {
		case events <- ev:
		case <-done:
			return
		}
	}
}

// exitStatus describes how a process ended: "exit status 1".
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Stop stops the server as a user would: SIGTERM, then SIGKILL if it has
// not exited when ctx is done. It returns an error if the server did not
// exit cleanly.
func (i *Instance) Stop(ctx context.Context) error {
	i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.done:
	case <-ctx.Done():
		i.kill()
		return fmt.Errorf("server pid %d did not stop in time; killed it", i.PID)
	}
	if i.err != nil {
		return fmt.Errorf("server pid %d: %w", i.PID, i.err)
	}
	return nil
}

// Done is closed when the server has exited.
func (i *Instance) Done() <-chan struct{} { return i.done }

func (i *Instance) kill() {
	i.cmd.Process.Kill()
	<-i.done
}

// lastLine passes writes on to w and keeps the last complete line, for
// error messages.
type lastLine struct {
	w    io.Writer
	mu   sync.Mutex
	line []byte // the last complete line
	part []byte // what came after it
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	for _, b := range p {
		switch {
		case b != '\n':
			l.part = append(l.part, b)
		case len(l.part) > 0:
			l.line, l.part = append(l.line[:0], l.part...), l.part[:0]
		}
	}
	l.mu.Unlock()
	l.w.Write(p) // a dead log reader must not stop the server's output
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.line)
}

// RunLaunched is the body of a supervisor process started by [Launch]: it
// reads its spec from [LaunchEnv], runs the cluster it describes until
// ctx is done or the launcher dies, and reports on the status pipe. Only
// a program's entry point should call it: it takes over the inherited
// files.
func RunLaunched(ctx context.Context, stderr io.Writer) error {
	l, ctx, cancel, err := InheritedLaunch(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	c := &Cluster{
		Name:    l.Name,
		Workers: l.Workers,
		Sched:   l.Sched,
		Queue:   l.Queue,
		Config:  l.Config,
		Grace:   l.Grace,
		Logger:  NewLogger(stderr, l.Config.LogFormat),
		Stderr:  stderr,
		Ready:   l.WorkerReady,
	}
	return c.ListenAndRun(ctx, l.Addr, l.Listening)
}

// Launched is what [Launch] gave the server process it started: the spec
// of the server to run, and the status pipe to report on. A server of
// another kind than a [Cluster] (a queue front) runs under Launch through
// it: LaunchConfig.Entry names its entry point, which calls
// [InheritedLaunch], runs its server as the spec says, and reports its
// URL and its workers' readiness.
type Launched struct {
	// Name, Addr, Workers, Sched, Queue, Grace and Config are the
	// LaunchConfig's (Addr is a free loopback port: 127.0.0.1:0).
	Name    string
	Addr    string
	Workers int
	Sched   string
	Queue   int
	Grace   time.Duration
	Config  Config

	extra json.RawMessage
	mu    sync.Mutex
	enc   *json.Encoder
}

// Extra decodes into v the settings of the server's own kind
// ([LaunchConfig.Extra]). It reports false, and leaves v, when the spec
// has none (a launcher that predates them).
func (l *Launched) Extra(v any) (bool, error) {
	if len(l.extra) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(l.extra, v); err != nil {
		return false, fmt.Errorf("launch spec: %w", err)
	}
	return true, nil
}

// InheritedLaunch reads the spec from [LaunchEnv] and takes over the
// inherited lifeline and status pipe. The context it returns is cancelled
// once the launcher is gone (even killed by SIGKILL); cancel releases the
// pipes. It returns [ErrNotLaunched] in a process that Launch did not
// start.
func InheritedLaunch(ctx context.Context) (*Launched, context.Context, func(), error) {
	raw, ok := os.LookupEnv(LaunchEnv)
	if !ok {
		return nil, nil, nil, ErrNotLaunched
	}
	var spec launchSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return nil, nil, nil, fmt.Errorf("launch spec: %w", err)
	}
	for _, fd := range []int{fdLaunchLifeline, fdLaunchStatus} {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return nil, nil, nil, fmt.Errorf("launched server: inherited fd %d: %w", fd, err)
		}
		// The workers must inherit neither pipe: the launcher's EOF must
		// not wait for them, and the lifeline is between it and us.
		syscall.CloseOnExec(fd)
	}
	lifeline := os.NewFile(fdLaunchLifeline, "launch-lifeline")
	status := os.NewFile(fdLaunchStatus, "launch-status")
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, lifeline) // returns at EOF: the launcher is gone
		cancel()
	}()
	l := &Launched{Name: spec.Name, Addr: spec.Addr, Workers: spec.Workers, Sched: spec.Sched, Queue: spec.Queue,
		Grace: spec.Grace, Config: spec.Config, extra: spec.Extra, enc: json.NewEncoder(status)}
	return l, ctx, func() { cancel(); status.Close() }, nil
}

func (l *Launched) report(ev launchEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.enc.Encode(ev) // fails only once the launcher is gone (EPIPE)
}

// Listening reports the server's base URL ("http://127.0.0.1:41327").
// It echoes the spec's extra settings, which the server has read
// ([LaunchConfig.Extra]).
func (l *Launched) Listening(url string) {
	l.report(launchEvent{Event: eventListening, URL: url, Extra: l.extra})
}

// WorkerReady reports that worker (an index below Workers) is ready, as
// process pid. Launch returns once every worker has been reported.
func (l *Launched) WorkerReady(worker, pid int) {
	l.report(launchEvent{Event: eventWorkerReady, Worker: worker, PID: pid})
}
