//go:build unix

package server

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// drainQuiet is how long a socket must have nothing queued before a
// stopping worker closes it. Connections keep arriving while siblings
// are open: long enough to see a gap, short enough not to delay a stop.
const drainQuiet = 30 * time.Millisecond

// drainUntilQuiet returns once pending has reported nothing queued for
// drainQuiet, or after max. The worker keeps accepting meanwhile.
func drainUntilQuiet(max time.Duration, pending func() bool) {
	deadline := time.Now().Add(max)
	quietSince := time.Now()
	for time.Now().Before(deadline) {
		if pending() {
			quietSince = time.Now()
		} else if time.Since(quietSince) >= drainQuiet {
			return
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// readable reports whether poll(2) says the socket behind rc has
// something to read: a connection in a listening socket's queue, a
// message in a unix socket's.
func readable(rc syscall.RawConn, err error) bool {
	if err != nil {
		return false
	}
	fds := []unix.PollFd{{Events: unix.POLLIN}}
	n := 0
	rc.Control(func(fd uintptr) {
		fds[0].Fd = int32(fd)
		n, _ = unix.Poll(fds, 0)
	})
	return n > 0 && fds[0].Revents&unix.POLLIN != 0 // not an error or a hang-up
}
