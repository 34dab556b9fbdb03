//go:build !unix

// Package cputime reads the CPU time this process has used, for the
// benchmarks that report a cost per operation in CPU rather than in wall
// time (on two shared CPUs the two differ by up to twice).
package cputime

import "time"

// Self is 0 where getrusage is missing: a benchmark's CPU metric then
// reads 0.
func Self() time.Duration { return 0 }
