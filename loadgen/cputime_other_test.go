//go:build !unix

package loadgen

import "time"

// cpuTime is 0 where getrusage is missing: the benchmarks' cpu-us/req
// then reads 0.
func cpuTime() time.Duration { return 0 }
