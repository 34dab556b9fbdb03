package server

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// The bound on a cluster's workers. A worker flipping a 20 MP photo holds
// about 100 MB (the decoded planes, the flipped copy, the encoder's
// buffers), and past a few workers a CPU only queues them: a machine
// holds at most WorkersPerCPU a CPU and one per WorkerMemory of its
// memory. Far above what any measurement needs, far below a fork storm.
const (
	WorkersPerCPU = 16
	WorkerMemory  = 128 << 20
)

// MaxWorkers is the most worker processes a cluster may run on this
// machine: [WorkersPerCPU] a CPU and one per [WorkerMemory] of memory
// (where the memory is known, from /proc/meminfo), at least one.
func MaxWorkers() int {
	n := WorkersPerCPU * runtime.NumCPU()
	if mem := memTotal(); mem > 0 {
		n = min(n, int(mem/WorkerMemory))
	}
	return max(n, 1)
}

// MaxWorkersRule says how [MaxWorkers] was chosen, for help and errors.
func MaxWorkersRule() string {
	rule := fmt.Sprintf("%d a CPU", WorkersPerCPU)
	if memTotal() > 0 {
		rule += fmt.Sprintf(" and one per %d MiB of memory", WorkerMemory>>20)
	}
	return fmt.Sprintf("%s: %d on this machine", rule, MaxWorkers())
}

// CheckWorkers refuses a worker count the machine cannot hold.
func CheckWorkers(n int) error {
	if limit := MaxWorkers(); n > limit {
		return fmt.Errorf("%d workers is more than this machine holds (at most %s)", n, MaxWorkersRule())
	}
	return nil
}

// memTotal is the machine's memory in bytes, or 0 where it is not known.
var memTotal = sync.OnceValue(func() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
})
