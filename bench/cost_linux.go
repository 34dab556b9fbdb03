package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flipbench/flipbench/results"
)

// costEvery is how often a server's memory is sampled during a
// measurement: often enough to see a job's peak (a 2400x1600 flip holds
// its pictures for tens of milliseconds), seldom enough that reading a
// few /proc files costs the bench nothing it would notice.
const costEvery = 20 * time.Millisecond

// pageSize converts statm's pages to bytes.
var pageSize = int64(os.Getpagesize())

// costMeter measures what one measurement cost a server: the CPU time
// of its whole process tree (every task's time on a CPU, nanoseconds from
// schedstat, plus the time of the children its processes reaped, such as
// a worker that died and was forked again) and the peak of the tree's
// summed resident memory, sampled every costEvery. The peak of the sum,
// sampled, is what the machine had to hold at once; it is not the sum of
// each process's own peak (VmHWM), which may come at different moments.
type costMeter struct {
	root  int
	start time.Duration // the tree's CPU time when the meter started
	stopc chan struct{}
	done  sync.WaitGroup

	mu      sync.Mutex
	peak    int64 // bytes
	samples int
}

// startCost starts measuring the process tree of root; nil when root is
// not a process (a server whose PID is not known).
func startCost(root int) *costMeter {
	if root <= 0 {
		return nil
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(root)); err != nil {
		return nil
	}
	m := &costMeter{root: root, stopc: make(chan struct{})}
	pids := treeOf(root)
	m.start = cpuOf(pids)
	m.sample(pids)
	m.done.Go(m.run)
	return m
}

// run samples the tree's memory until stop. The tree is walked again
// every treeEvery samples, so that a worker forked during the
// measurement counts; between walks a sample reads one statm file per
// process, through files kept open, so that the measuring takes the
// servers' CPUs next to nothing.
func (m *costMeter) run() {
	t := time.NewTicker(costEvery)
	defer t.Stop()
	var statm statmFiles
	defer statm.close()
	for n := 0; ; n++ {
		select {
		case <-m.stopc:
			return
		case <-t.C:
		}
		if n%treeEvery == 0 {
			statm.open(treeOf(m.root))
		}
		m.record(statm.rss())
	}
}

// treeEvery is how many samples go by between two walks of the tree.
const treeEvery = 10

func (m *costMeter) sample(pids []int) { m.record(rssOf(pids)) }

func (m *costMeter) record(rss int64) {
	m.mu.Lock()
	m.peak = max(m.peak, rss)
	m.samples++
	m.mu.Unlock()
}

// statmFiles are the statm files of a tree's processes, kept open.
type statmFiles struct{ files []*os.File }

func (s *statmFiles) open(pids []int) {
	s.close()
	for _, pid := range pids {
		if f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/statm"); err == nil {
			s.files = append(s.files, f)
		}
	}
}

func (s *statmFiles) close() {
	for _, f := range s.files {
		f.Close()
	}
	s.files = s.files[:0]
}

// rss is the summed resident memory of the open processes, in bytes; a
// process that has exited reads as nothing.
func (s *statmFiles) rss() int64 {
	var total int64
	buf := make([]byte, 128)
	for _, f := range s.files {
		n, _ := f.ReadAt(buf, 0)
		total += statmRSS(buf[:n])
	}
	return total
}

// stop ends the measurement and returns its cost; nil for a nil meter.
func (m *costMeter) stop() *results.Cost {
	if m == nil {
		return nil
	}
	pids := treeOf(m.root)
	cpu := cpuOf(pids) - m.start
	m.sample(pids)
	close(m.stopc)
	m.done.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	return &results.Cost{
		CPUMs:     results.Ms(max(cpu, 0)),
		PeakRSSMB: float64(m.peak) / (1 << 20),
		SampleMs:  results.Ms(costEvery),
		Samples:   m.samples,
	}
}

// treeOf is root and its descendants, from each task's children list.
func treeOf(root int) []int {
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(tree[i]) + "/task/*/children")
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			for _, field := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(field); err == nil {
					tree = append(tree, pid)
				}
			}
		}
	}
	return tree
}

// cpuOf is the CPU time of pids: each live task's time on a CPU, and
// the time of the children they reaped (clock ticks: all /proc gives).
func cpuOf(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid)
		tasks, _ := filepath.Glob(dir + "/task/*/schedstat")
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			if ns, err := strconv.ParseInt(firstField(b), 10, 64); err == nil {
				total += time.Duration(ns)
			}
		}
		b, err := os.ReadFile(dir + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 14 {
				cu, _ := strconv.ParseInt(f[13], 10, 64) // cutime
				cs, _ := strconv.ParseInt(f[14], 10, 64) // cstime
				total += time.Duration(cu+cs) * tick
			}
		}
	}
	return total
}

// rssOf is the summed resident memory of pids, in bytes.
func rssOf(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
		total += statmRSS(b)
	}
	return total
}

// statmRSS reads the resident pages of a statm line, in bytes.
func statmRSS(b []byte) int64 {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * pageSize
}

func firstField(b []byte) string {
	f, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return f
}
