//go:build unix

package loadgen

import (
	"fmt"
	"syscall"
)

// ensureOpenFiles checks that n requests can each have a socket at once.
// It changes nothing: the Go runtime already raises the soft limit on
// open files to the hard one when a program starts, and a process-wide
// limit is not a library's to set.
func ensureOpenFiles(n int) error {
	need := uint64(n) + 64 // stdio, the listener in tests, the runtime's own
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // cannot tell; let the sockets speak for themselves
	}
	if uint64(lim.Cur) >= need {
		return nil
	}
	return fmt.Errorf("%d concurrent requests need %d open files, but the limit is %d (raise it with ulimit -n)", n, need, lim.Cur)
}
