//go:build unix

package queue

import "syscall"

// processGone reports whether no process has the ID pid.
func processGone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }
