//go:build unix

package loadgen

import (
	"fmt"
	"syscall"
)

// ensureOpenFiles raises the soft limit on open files, if it must and
// can, so that n requests can each have a socket at once.
func ensureOpenFiles(n int) error {
	need := uint64(n) + 64 // stdio, the listener in tests, the runtime's own
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // cannot tell; let the sockets speak for themselves
	}
	if uint64(lim.Cur) >= need {
		return nil
	}
	if uint64(lim.Max) >= need {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%d concurrent requests need %d open files, but the limit is %d (raise it with ulimit -n)", n, need, lim.Cur)
}
