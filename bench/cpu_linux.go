package bench

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flipbench/flipbench/results"
)

// tick is one clock tick of /proc's CPU times: USER_HZ is 100 on Linux,
// whatever the kernel's own HZ.
const tick = 10 * time.Millisecond

// cpuSnapshot is the machine's busy CPU time and the CPU time of this
// process and every process it started (the load generator and the
// servers under test, their workers included), at one moment.
type cpuSnapshot struct {
	at            time.Time
	machine, ours int64 // ticks
	ok            bool
}

func takeCPU() cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	m, err := machineTicks()
	if err != nil {
		return s
	}
	s.machine, s.ours, s.ok = m, treeTicks(os.Getpid()), true
	return s
}

// since is the CPU used between s and now.
func (s cpuSnapshot) since() *results.CPUUse {
	end := takeCPU()
	if !s.ok || !end.ok {
		return nil
	}
	ours := end.ours - s.ours
	other := max(0, end.machine-s.machine-ours)
	return &results.CPUUse{
		OursMs:  results.Ms(time.Duration(ours) * tick),
		OtherMs: results.Ms(time.Duration(other) * tick),
		WallMs:  results.Ms(end.at.Sub(s.at)),
	}
}

// machineTicks is the busy time of every CPU from /proc/stat: user,
// nice, system, irq, softirq and steal.
func machineTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system [idle iowait] irq softirq steal
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			busy += v
		}
	}
	return busy, nil
}

// treeTicks is the CPU time of root and its descendants, with the time
// of the children they have reaped (a worker that exited is in its
// supervisor's cutime).
func treeTicks(root int) int64 {
	entries, _ := os.ReadDir("/proc")
	parent, cpu := map[int]int{}, map[int]int64{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces: the fields follow the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid] = ppid
		var t int64
		for _, j := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseInt(f[j], 10, 64)
			t += v
		}
		cpu[pid] = t
	}
	var total int64
	for pid, t := range cpu {
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				total += t
				break
			}
		}
	}
	return total
}
