package results

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// Env describes the machine and program a run was measured with, so that
// two runs can be told apart before they are compared.
type Env struct {
	// Version and Commit identify the flipbench build.
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Go is the Go version it was built with; OS and Arch where it ran.
	Go   string `json:"go"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// CPU is the processor's model name, "unknown" off Linux.
	CPU string `json:"cpu_model"`
	// NumCPU is the number of logical CPUs.
	NumCPU int `json:"num_cpu"`
}

// CurrentEnv describes this machine; version and commit come from the
// caller, which knows how it was built.
func CurrentEnv(version, commit string) Env {
	return Env{
		Version: version,
		Commit:  commit,
		Go:      runtime.Version(),
		OS:      runtime.GOOS,
		Arch:    runtime.GOARCH,
		CPU:     cpuModel(),
		NumCPU:  runtime.NumCPU(),
	}
}

// cpuModel reads the CPU's name from /proc/cpuinfo; elsewhere it is
// unknown.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}
