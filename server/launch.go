package server

import (
	"errors"
	"io"
	"time"
)

// DefaultLaunchTimeout is how long [Launch] waits for a server's workers.
const DefaultLaunchTimeout = time.Minute

// LaunchEnv is the environment variable that marks a supervisor started
// by [Launch]. It holds the server's spec as JSON; the process also
// inherits two files: the read end of a lifeline pipe as fd 3 (EOF means
// the launcher is gone) and the write end of a status pipe as fd 4, on
// which the supervisor reports, one JSON object a line, the address it
// listens on and each worker that becomes ready. Log lines are for
// people; nothing reads them to learn the server's state.
const LaunchEnv = "FLIPBENCH_LAUNCH_SPEC"

// ErrNotLaunched is returned by [RunLaunched] in a process that [Launch]
// did not start.
var ErrNotLaunched = errors.New("not a launched server: these are started by flipbench bench")

// LaunchConfig describes a flipbench server to start as a child process.
type LaunchConfig struct {
	// Exe is the flipbench binary. Empty means this program.
	Exe string
	// Args are the arguments that make Exe call [RunLaunched]. Nil means
	// []string{"supervise"}.
	Args []string
	// Name is the server's name in its logs, "standard" or "cluster".
	Name string
	// Workers is the number of worker processes. Zero means one per CPU.
	Workers int
	// Sched and Queue are the cluster's dispatch policy and queue bound
	// (see [Cluster]). Zero values mean the defaults.
	Sched string
	Queue int
	// Config is every worker's configuration.
	Config Config
	// Grace is how long in-flight jobs may run after a stop. Zero means
	// [DefaultGrace].
	Grace time.Duration
	// Stderr receives the server's logs. Nil discards them.
	Stderr io.Writer
	// Timeout bounds the wait for every worker to be ready. Zero means
	// [DefaultLaunchTimeout].
	Timeout time.Duration
}

// launchSpec is what [Launch] tells the supervisor it starts.
type launchSpec struct {
	Name    string        `json:"name"`
	Addr    string        `json:"addr"`
	Workers int           `json:"workers"`
	Sched   string        `json:"sched"`
	Queue   int           `json:"queue"`
	Grace   time.Duration `json:"grace"`
	Config  Config        `json:"config"`
}

// launchEvent is one line on the status pipe.
type launchEvent struct {
	// Event is "listening" (with URL) or "worker_ready" (with Worker and
	// PID).
	Event  string `json:"event"`
	URL    string `json:"url,omitempty"`
	Worker int    `json:"worker"`
	PID    int    `json:"pid,omitempty"`
}

// The events of the status pipe.
const (
	eventListening   = "listening"
	eventWorkerReady = "worker_ready"
)
