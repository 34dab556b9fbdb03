//go:build linux || darwin

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Run starts the workers on ln and supervises them until ctx is done, then
// stops them: SIGTERM, up to Grace for in-flight jobs, then SIGKILL. It
// returns nil after such a stop, or an error wrapping [ErrGaveUp] when a
// worker keeps dying before it becomes ready (the other workers are stopped
// first). ln must be a *net.TCPListener or *net.UnixListener; Run does not
// close it.
func (c *Cluster) Run(ctx context.Context, ln net.Listener) error {
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

	exe := c.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("cluster: find own executable: %w", err)
		}
	}
	n := c.Workers
	if n == 0 {
		n = runtime.NumCPU()
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range n {
		sup := &slot{c: c, index: i, exe: exe, ln: lnFile, log: log}
		wg.Go(func() {
			if err := sup.run(runCtx); err != nil {
				cancel(err) // one worker gave up: stop the others too
			}
		})
	}
	wg.Wait()
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
	ln    *os.File
	log   *slog.Logger
}

// run starts the worker, waits for it, and restarts it with backoff until
// ctx is done. It returns an error only when the worker keeps failing to
// start.
func (s *slot) run(ctx context.Context) error {
	backoff := s.c.backoff()
	failures := 0
	for {
		p, err := s.start()
		if err != nil {
			return fmt.Errorf("worker %d: %w", s.index, err)
		}
		readyAt, stopped := p.wait(ctx, s.c.readyTimeout(), s.c.grace(), s.log)
		if stopped {
			s.removeTempDir(p.pid)
			return nil
		}
		up := time.Since(p.started).Round(time.Millisecond)
		s.removeTempDir(p.pid)
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
	}
}

// removeTempDir removes what a dead worker left in its temporary
// directory: a worker killed by SIGKILL (or the OOM killer) in the middle
// of a job cannot delete its own files.
func (s *slot) removeTempDir(pid int) {
	parent := s.c.Config.TmpDir
	if parent == "" {
		parent = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(parent, tempDirPrefix(s.index, pid)+"*"))
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			s.log.Warn("removing a dead worker's temp dir", "dir", d, "err", err)
		}
	}
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
}

func (s *slot) start() (*proc, error) {
	cfg := s.c.Config
	cfg.Worker = s.index
	spec, err := json.Marshal(workerSpec{Config: cfg, Grace: s.c.grace()})
	if err != nil {
		return nil, err
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		lifeR.Close()
		lifeW.Close()
		return nil, err
	}
	args := s.c.Args
	if args == nil {
		args = []string{"worker"}
	}
	cmd := exec.Command(s.exe, args...)
	cmd.Env = append(os.Environ(), WorkerEnv+"="+string(spec))
	cmd.Stdout = os.Stderr // stdout is the supervisor's result channel
	cmd.Stderr = os.Stderr
	if s.c.Stderr != nil {
		cmd.Stdout, cmd.Stderr = s.c.Stderr, s.c.Stderr
	}
	cmd.ExtraFiles = []*os.File{s.ln, lifeR, readyW} // fds 3, 4, 5
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
		return nil, fmt.Errorf("start %s: %w", s.exe, err)
	}
	p := &proc{index: s.index, cmd: cmd, pid: cmd.Process.Pid, started: time.Now(),
		ready: make(chan struct{}), exited: make(chan struct{}), lifeline: lifeW}
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

// wait blocks until the worker exits or ctx is done. It returns when the
// worker became ready (zero if never) and whether it was stopped because
// ctx is done. A worker that is not ready within readyTimeout is killed.
func (p *proc) wait(ctx context.Context, readyTimeout, grace time.Duration, log *slog.Logger) (readyAt time.Time, stopped bool) {
	readyC := p.ready
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-readyC:
			readyAt, readyC = time.Now(), nil
			timeout.Stop()
		case <-timeout.C:
			log.Warn("worker not ready in time, killing it", "worker", p.index, "pid", p.pid, "timeout", readyTimeout.String())
			p.cmd.Process.Kill()
		case <-p.exited:
			if readyAt.IsZero() && readyC != nil {
				select { // it may have said ready just before dying
				case <-readyC:
					readyAt = time.Now()
				default:
				}
			}
			return readyAt, false
		case <-ctx.Done():
			p.stop(grace, log)
			return readyAt, true
		}
	}
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
