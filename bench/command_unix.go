//go:build linux || darwin

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Durations of the command servers' life cycle.
const (
	// startTimeout bounds the wait for a command's URL to answer.
	startTimeout = time.Minute
	// stopTimeout bounds a command's exit after SIGTERM.
	stopTimeout = time.Minute
	// groupGrace is how long the rest of a command's process group may
	// take to exit once its shell has.
	groupGrace = 5 * time.Second
	// pollInterval is how often a URL or a process group is polled.
	pollInterval = 20 * time.Millisecond
)

// commandServer is a server under test started by a shell command, in a
// process group of its own.
type commandServer struct {
	url  string
	pid  int
	done chan struct{}
	err  error
}

// startCommand runs command with sh -c in dir (empty: the working
// directory) and waits until url answers with any HTTP status.
func startCommand(ctx context.Context, command, dir, url string, logs io.Writer) (*commandServer, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	// A server left on the port would answer for the new one, and be
	// measured in its place.
	if resp, err := client.Get(url); err == nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%s already answers before %q starts: stop whatever serves it first", url, command)
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if logs == nil {
		// A file, not io.Discard: with a pipe, a background child that
		// keeps it open would hold up Wait.
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		defer devnull.Close() // the child has its own copy
		logs = devnull
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", command, err)
	}
	s := &commandServer{url: url, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	err := pollURL(ctx, client, url, s.done)
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, errExited):
		s.kill() // whatever it left behind
		return nil, fmt.Errorf("%q exited before %s answered (%s)", command, url, exitStatus(s.err))
	case errors.Is(err, context.DeadlineExceeded):
		s.kill()
		return nil, fmt.Errorf("%s did not answer within %s of starting %q", url, startTimeout, command)
	}
	s.kill()
	return nil, err
}

// errExited is why pollURL gave up when the process exited.
var errExited = errors.New("the process exited")

// pollURL GETs url until it answers with any status, every pollInterval;
// it gives up when ctx is done or done closes.
func pollURL(ctx context.Context, client *http.Client, url string, done <-chan struct{}) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return errExited
		case <-t.C:
		}
	}
}

func (s *commandServer) URL() string { return s.url }

// PID is the shell's: the command's whole tree is under it.
func (s *commandServer) PID() int { return s.pid }

// Stop sends SIGTERM to the command's whole process group, waits for the
// shell, gives the rest of the group a moment more, then SIGKILLs it, so
// that nothing the command started outlives the bench.
func (s *commandServer) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	syscall.Kill(-s.pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.kill()
		return fmt.Errorf("server pid %d did not stop in time; killed it", s.pid)
	}
	wait, cancelWait := context.WithTimeout(ctx, groupGrace)
	defer cancelWait()
	if !s.groupGone(wait) {
		syscall.Kill(-s.pid, syscall.SIGKILL)
	}
	var exit *exec.ExitError
	switch {
	case s.err == nil, errors.Is(s.err, exec.ErrWaitDelay):
		return nil // a child kept the output pipe open; the group is gone now
	case errors.As(s.err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil // a shell or a server that simply dies of SIGTERM
		}
	}
	return fmt.Errorf("server pid %d: %w", s.pid, s.err)
}

// kill SIGKILLs the whole process group and waits for the shell.
func (s *commandServer) kill() {
	syscall.Kill(-s.pid, syscall.SIGKILL)
	<-s.done
}

// groupGone waits until no process is left in the command's process
// group, or ctx is done.
func (s *commandServer) groupGone(ctx context.Context) bool {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for syscall.Kill(-s.pid, 0) == nil {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// exitStatus describes how a process ended: "exit status 1".
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
