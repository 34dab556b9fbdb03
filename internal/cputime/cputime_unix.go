//go:build unix

// Package cputime reads the CPU time this process has used, for the
// benchmarks that report a cost per operation in CPU rather than in wall
// time (on two shared CPUs the two differ by up to twice).
package cputime

import (
	"syscall"
	"time"
)

// Self is the user and system time this process has used, or 0 if the
// system does not say.
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
