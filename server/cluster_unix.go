//go:build linux || darwin

package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Forks reports whether a [Cluster] runs its workers as processes of
// their own. Where it does not, a cluster of one serves in the calling
// process, whose GOMAXPROCS the entry point must then set.
const Forks = true

// Run starts the workers on ln and supervises them until ctx is done, then
// stops them: SIGTERM, up to Grace for in-flight jobs, then SIGKILL. It
// returns nil after such a stop, or an error wrapping [ErrGaveUp] when a
// worker keeps dying before it becomes ready (the other workers are stopped
// first). Under the shared policy ln must be a *net.TCPListener or
// *net.UnixListener, which every worker inherits; under rr and free a
// *net.TCPListener, on which the supervisor accepts. Run does not close
// it. The reuseport policy binds sockets of its own: see
// [Cluster.ListenAndRun].
func (c *Cluster) Run(ctx context.Context, ln net.Listener) error {
	if err := CheckSched(c.Sched); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	switch c.sched() {
	case SchedReusePort:
		return errors.New("cluster: the reuseport policy binds its own sockets: use ListenAndRun")
	case SchedRR, SchedFree:
		tl, ok := ln.(*net.TCPListener)
		if !ok {
			return fmt.Errorf("cluster: the %s policy accepts TCP connections, not a %T", c.sched(), ln)
		}
		return c.runWorkers(ctx, handoffPair, "", tl)
	}
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return fmt.Errorf("cluster: listener %T cannot be shared with workers", ln)
	}
	// File returns a duplicate descriptor: every worker inherits this one
	// socket, and the supervisor never accepts on it.
	lnFile, err := fl.File()
	if err != nil {
		return fmt.Errorf("cluster: share listener: %w", err)
	}
	defer lnFile.Close()
	err = c.runWorkers(ctx, sameFile(lnFile), "", nil)
	if tl, ok := ln.(*net.TCPListener); ok {
		answerBacklog(tl)
	}
	return err
}

// RunDetached starts the workers with no socket to serve and supervises
// them until ctx is done, as [Cluster.Run] does: restarts with backoff,
// rolling restarts on Reload, SIGTERM and Grace at the stop. It is for
// workers that find their work elsewhere (a queue's, over the network):
// fd 3 is /dev/null; fds 4 and 5 are the lifeline and the ready pipe, as
// [Worker.Supervised] takes them.
func (c *Cluster) RunDetached(ctx context.Context) error {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer null.Close()
	return c.runWorkers(ctx, sameFile(null), "", nil)
}

// backlogLinger bounds how long answerBacklog keeps accepting: clients
// that keep coming (a load balancer not yet told) must not hold up the
// exit.
const backlogLinger = 250 * time.Millisecond

// answerBacklog answers 503 to the connections still queued on ln once
// every worker has stopped: closing the socket would reset them. It
// returns when none has come for 20 ms, or after backlogLinger.
func answerBacklog(ln *net.TCPListener) {
	var answered sync.WaitGroup
	defer answered.Wait()
	end := time.Now().Add(backlogLinger)
	for {
		// A moment, not a deadline already past, which would not look.
		wait := min(20*time.Millisecond, time.Until(end))
		if wait <= 0 {
			return
		}
		ln.SetDeadline(time.Now().Add(wait))
		conn, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		answered.Go(func() {
			readHeadQuietly(conn)
			rawAnswer(conn, http.StatusServiceUnavailable, "stopping", "Retry-After: 1\r\n")
		})
	}
}

// sameFile gives every worker the same fd 3.
func sameFile(f *os.File) func() (*net.UnixConn, *os.File, error) {
	return func() (*net.UnixConn, *os.File, error) { return nil, f, nil }
}

// runReusePort runs the workers of the reuseport policy: each listens on
// addr itself; reserved, the supervisor's bound socket, keeps the port.
func (c *Cluster) runReusePort(ctx context.Context, reserved *os.File, addr string) error {
	return c.runWorkers(ctx, sameFile(reserved), addr, nil)
}

// runWorkers supervises the workers until ctx is done. fd3 makes what a
// new worker gets as fd 3 and, for a socket of its own, the supervisor's
// end of it; addr is where reuseport workers listen; ln, if not nil, is
// the socket the supervisor accepts on for rr and free.
func (c *Cluster) runWorkers(ctx context.Context, fd3 func() (*net.UnixConn, *os.File, error), addr string, ln *net.TCPListener) error {
	exe := c.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("cluster: find own executable: %w", err)
		}
	}
	n := c.workers()
	if err := CheckWorkers(n); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	log := c.logger()

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var fr *front
	if ln != nil {
		fr = c.newFront()
		// The front dispatches until runCtx is done, then answers 503
		// until the last worker has stopped (the deferred func below).
		accepting, stopAccepting := context.WithCancel(context.WithoutCancel(ctx))
		frontDone := make(chan struct{})
		go func() {
			defer close(frontDone)
			fr.run(runCtx, accepting, ln, fr.handler(time.Now()))
		}()
		defer func() {
			cancel(nil)
			stopAccepting()
			<-frontDone
		}()
	}
	var wg sync.WaitGroup
	rolls := make([]chan chan struct{}, n)
	for i := range n {
		rolls[i] = make(chan chan struct{})
		sup := &slot{c: c, index: i, exe: exe, fd3: fd3, addr: addr, front: fr, log: log}
		wg.Go(func() {
			if err := sup.run(runCtx, rolls[i]); err != nil {
				cancel(err) // one worker gave up: stop the others too
			}
		})
	}
	go c.rollOnReload(runCtx, rolls, log)
	wg.Wait()
	cancel(nil) // the front stops with the workers, however they stopped
	if err := context.Cause(runCtx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// slot supervises the successive processes of one worker index.
type slot struct {
	c     *Cluster
	index int
	exe   string
	fd3   func() (*net.UnixConn, *os.File, error)
	addr  string
	front *front // nil unless the supervisor accepts
	log   *slog.Logger
}

// rollOnReload restarts the workers one at a time for each value on
// c.Reload: every slot starts a new worker, waits until it is ready, then
// drains the old one, so the cluster never has fewer ready workers.
func (c *Cluster) rollOnReload(ctx context.Context, rolls []chan chan struct{}, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Reload:
		}
		log.Info("rolling restart", "workers", len(rolls))
		for i, roll := range rolls {
			done := make(chan struct{})
			select {
			case roll <- done:
			case <-ctx.Done():
				return
			}
			select {
			case <-done:
			case <-ctx.Done():
				return
			}
			log.Debug("rolled worker", "worker", i)
		}
		log.Info("rolling restart done", "workers", len(rolls))
	}
}

// run starts the worker, waits for it, and restarts it with backoff until
// ctx is done; a request on roll replaces it with a fresh one. It returns
// an error only when the worker keeps failing to start.
func (s *slot) run(ctx context.Context, roll <-chan chan struct{}) error {
	backoff := s.c.backoff()
	failures := 0
	if ctx.Err() != nil { // stopped while the others were starting: fork nothing more
		return nil
	}
	p, err := s.start()
	for {
		if err != nil {
			return fmt.Errorf("worker %d: %w", s.index, err)
		}
		readyAt, outcome, next := s.supervise(ctx, p, roll)
		switch outcome {
		case stopped:
			s.ended(p)
			return nil
		case replaced:
			p, failures, backoff = next, 0, s.c.backoff()
			continue
		}
		up := time.Since(p.started).Round(time.Millisecond)
		s.ended(p)
		s.log.Warn("worker exited", "worker", s.index, "pid", p.pid, "status", p.status(), "uptime", up.String())
		switch {
		case readyAt.IsZero():
			failures++
			if failures >= s.c.maxStartFailures() {
				s.log.Error("giving up on worker", "worker", s.index, "failures", failures)
				return fmt.Errorf("worker %d exited %d times in a row before becoming ready (last: %s): %w",
					s.index, failures, p.status(), ErrGaveUp)
			}
		case time.Since(readyAt) >= s.c.stableAfter():
			failures, backoff = 0, s.c.backoff()
		default:
			failures = 0
		}
		s.log.Info("restarting worker", "worker", s.index, "in", backoff.String())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, s.c.maxBackoff())
		if ctx.Err() != nil {
			return nil
		}
		p, err = s.start()
		if err == nil {
			p.restart = true
		}
	}
}

// How supervise ended.
type outcome int

const (
	exited   outcome = iota // the worker exited by itself
	stopped                 // ctx is done and the worker was stopped
	replaced                // a rolling restart replaced it with next
)

// supervise watches p until it exits, ctx is done, or a rolling restart
// replaces it. It returns when p became ready (zero if never). A worker
// that is not ready within the ready timeout is killed.
func (s *slot) supervise(ctx context.Context, p *proc, roll <-chan chan struct{}) (readyAt time.Time, _ outcome, next *proc) {
	readyC := p.ready
	timeout := time.NewTimer(s.c.readyTimeout())
	defer timeout.Stop()
	for {
		select {
		case <-readyC:
			readyAt, readyC = time.Now(), nil
			timeout.Stop()
			s.ready(p)
		case <-timeout.C:
			s.log.Warn("worker not ready in time, killing it", "worker", s.index, "pid", p.pid, "timeout", s.c.readyTimeout().String())
			p.cmd.Process.Kill()
		case <-p.exited:
			if readyAt.IsZero() && readyC != nil {
				select { // it may have said ready just before dying
				case <-readyC:
					readyAt = time.Now()
				default:
				}
			}
			return readyAt, exited, nil
		case <-ctx.Done():
			p.stop(s.c.grace(), s.log)
			return readyAt, stopped, nil
		case done := <-roll:
			next := s.replace(ctx, p)
			close(done)
			if next != nil {
				return readyAt, replaced, next
			}
		}
	}
}

// replace starts a new worker and, once it is ready, drains and stops old.
// If the new worker cannot start, old keeps serving and replace returns nil.
func (s *slot) replace(ctx context.Context, old *proc) *proc {
	next, err := s.start()
	if err != nil {
		s.log.Error("rolling restart: cannot start a worker, keeping the old one", "worker", s.index, "err", err)
		return nil
	}
	t := time.NewTimer(s.c.readyTimeout())
	defer t.Stop()
	select {
	case <-next.ready:
	case <-next.exited:
		s.log.Error("rolling restart: new worker died before it was ready, keeping the old one",
			"worker", s.index, "pid", next.pid, "status", next.status())
		s.ended(next)
		return nil
	case <-t.C:
		s.log.Error("rolling restart: new worker not ready in time, keeping the old one", "worker", s.index, "pid", next.pid)
		next.cmd.Process.Kill()
		<-next.exited
		s.ended(next)
		return nil
	case <-ctx.Done():
		next.stop(s.c.grace(), s.log)
		s.ended(next)
		return nil
	}
	s.ready(next)
	s.log.Info("worker replaced", "worker", s.index, "old_pid", old.pid, "pid", next.pid)
	old.stop(s.c.grace(), s.log) // the new one is already accepting
	s.ended(old)
	return next
}

// removeTempDir removes what a dead worker left in its temporary
// directory: a worker killed by SIGKILL (or the OOM killer) in the middle
// of a job cannot delete its own files.
func (s *slot) removeTempDir(pid int) {
	parent := s.c.Config.TmpDir
	if parent == "" {
		parent = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(parent, TempDirPrefix(s.index, pid)+"*"))
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			s.log.Warn("removing a dead worker's temp dir", "dir", d, "err", err)
		}
	}
}

// ready tells the front and the cluster's Ready callback, once, that p
// serves.
func (s *slot) ready(p *proc) {
	if p.said {
		return
	}
	p.said = true
	if s.front != nil {
		s.front.attach(s.index, p.pid, p.uc, p.restart)
	}
	if s.c.Ready != nil {
		s.c.Ready(s.index, p.pid)
	}
}

// ended cleans up after p, whose process is gone: no more connections
// for it, and no job files left behind.
func (s *slot) ended(p *proc) {
	if s.front != nil {
		s.front.detach(s.index, p.uc)
	} else if p.uc != nil {
		p.uc.Close()
	}
	s.removeTempDir(p.pid)
}

// workerEnv is the environment of a worker: ours, less what marks a
// launched supervisor, plus the worker's spec.
func workerEnv(spec []byte) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, LaunchEnv+"=") && !strings.HasPrefix(kv, WorkerEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, WorkerEnv+"="+string(spec))
}

// proc is one running worker process.
type proc struct {
	index    int
	cmd      *exec.Cmd
	pid      int
	started  time.Time
	ready    chan struct{} // closed when the worker says it is ready
	exited   chan struct{} // closed when the process has been reaped
	lifeline *os.File      // write end; closing it tells the worker to go
	uc       *net.UnixConn // the supervisor's end of its handoff socket, if any
	restart  bool          // started because the one before it exited
	said     bool          // ready was announced
}

func (s *slot) start() (*proc, error) {
	cfg := s.c.Config
	cfg.Worker = s.index
	spec, err := s.c.workerSpec(cfg, s.addr)
	if err != nil {
		return nil, err
	}
	uc, fd3, err := s.fd3()
	if err != nil {
		return nil, err
	}
	if uc != nil {
		defer fd3.Close() // the worker's own end: the child has its copy
	}
	fail := func(err error) (*proc, error) {
		if uc != nil {
			uc.Close()
		}
		return nil, err
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		lifeR.Close()
		lifeW.Close()
		return fail(err)
	}
	args := s.c.Args
	if args == nil {
		args = []string{EntryWorker}
	}
	cmd := exec.Command(s.exe, args...)
	cmd.Env = workerEnv(spec)
	cmd.Stdout = os.Stderr // stdout is the supervisor's result channel
	cmd.Stderr = os.Stderr
	if s.c.Stderr != nil {
		cmd.Stdout, cmd.Stderr = s.c.Stderr, s.c.Stderr
	}
	cmd.ExtraFiles = []*os.File{fd3, lifeR, readyW} // fds 3, 4, 5
	// A process group of its own keeps a terminal's Ctrl-C away from the
	// workers: the supervisor decides how they stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	// The child has its copies now; ours of its ends must go, or the pipes
	// would never report EOF. Our ends are close-on-exec, so no other
	// worker inherits them.
	lifeR.Close()
	readyW.Close()
	if err != nil {
		lifeW.Close()
		readyR.Close()
		return fail(fmt.Errorf("start %s: %w", s.exe, err))
	}
	if s.c.Nice != 0 {
		// The child runs a moment at our priority: nothing of its job.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, s.c.Nice); err != nil && s.c.Logger != nil {
			s.c.Logger.Warn("worker priority not lowered", "worker", s.index, "pid", cmd.Process.Pid, "nice", s.c.Nice, "err", err)
		}
	}
	p := &proc{index: s.index, cmd: cmd, pid: cmd.Process.Pid, started: time.Now(),
		ready: make(chan struct{}), exited: make(chan struct{}), lifeline: lifeW, uc: uc}
	go func() {
		defer readyR.Close()
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		if line == "ready\n" {
			close(p.ready)
		}
	}()
	go func() {
		cmd.Wait()
		lifeW.Close()
		close(p.exited)
	}()
	s.log.Debug("worker started", "worker", s.index, "pid", p.pid)
	return p, nil
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs.
func (p *proc) stop(grace time.Duration, log *slog.Logger) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		log.Info("worker exited", "worker", p.index, "pid", p.pid, "status", p.status())
	case <-t.C:
		log.Warn("worker did not stop in time, killing it", "worker", p.index, "pid", p.pid, "grace", grace.String())
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) status() string {
	if p.cmd.ProcessState == nil {
		return "running"
	}
	return p.cmd.ProcessState.String()
}
