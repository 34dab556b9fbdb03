package bench

import (
	"bufio"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// costChildEnv makes this test binary a process of a measured tree: it
// runs a child of its own that spins 200 ms of CPU and exits (reaped: a
// worker that died and was forked again), then touches 64 MiB and spins
// 300 ms of CPU itself, says "done" and holds on until stdin closes.
const costChildEnv = "FLIPBENCH_TEST_COST_CHILD"

func init() {
	switch os.Getenv(costChildEnv) {
	case "parent":
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), costChildEnv+"=grandchild")
		if err := child.Run(); err != nil {
			os.Exit(2)
		}
		buf := make([]byte, 64<<20)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		spinCPU(300 * time.Millisecond)
		os.Stdout.WriteString("done\n")
		os.Stdin.Read(make([]byte, 1)) // until the test closes it
		buf[0]++
		os.Exit(0)
	case "grandchild":
		spinCPU(200 * time.Millisecond)
		os.Exit(0)
	}
}

// spinCPU burns d of this process's own CPU time, however busy the
// machine is.
func spinCPU(d time.Duration) {
	for {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= d {
			return
		}
		for i := 0; i < 1e6; i++ {
		}
	}
}

// TestCostMeterCountsTheWholeTree: the CPU time of a server's tree
// includes a child it reaped during the measurement, and its peak memory
// holds what it touched.
func TestCostMeterCountsTheWholeTree(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), costChildEnv+"=parent")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := startCost(cmd.Process.Pid)
	if m == nil {
		t.Fatal("no meter for a running process")
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	cost := m.stop()
	stdin.Close()
	if werr := cmd.Wait(); err != nil || line != "done\n" || werr != nil {
		t.Fatalf("child: %q %v %v", line, err, werr)
	}
	// 300 ms of its own and 200 of the child it reaped, less what a
	// reaped child's clock ticks round away (two ticks) and the start of
	// the process before the meter looked.
	if cost.CPUMs < 450 {
		t.Errorf("CPU %.1f ms, want about 500 (300 of its own, 200 of the child it reaped)", cost.CPUMs)
	}
	if cost.PeakRSSMB < 64 || cost.Samples < 2 {
		t.Errorf("peak %.1f MiB over %d samples, want at least the 64 MiB it held", cost.PeakRSSMB, cost.Samples)
	}
	if startCost(0) != nil || startCost(1<<30) != nil {
		t.Error("a meter for no process")
	}
}
