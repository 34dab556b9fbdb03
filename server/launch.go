package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
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
	// Entry is the entry point ([Entries]) Exe runs the server under:
	// [EntrySupervise] for a [Cluster] ([RunLaunched]), or another kind's
	// ([EntrySuperviseQueue]), which reads this spec through
	// [InheritedLaunch]. Empty means EntrySupervise.
	Entry string
	// Extra is the settings of a server of another kind, put in the spec
	// as JSON ([Launched.Extra]): a queue's reply mode. The server echoes
	// them when it reports its URL, and Launch fails if it does not: a
	// build too old to read them would serve with its defaults,
	// unannounced. Nil means none.
	Extra any
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
	// Extra is LaunchConfig.Extra as JSON.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// launchEvent is one line on the status pipe.
type launchEvent struct {
	// Event is "listening" (with URL) or "worker_ready" (with Worker and
	// PID).
	Event  string `json:"event"`
	URL    string `json:"url,omitempty"`
	Worker int    `json:"worker"`
	PID    int    `json:"pid,omitempty"`
	// Extra, on "listening", echoes the spec's Extra: the settings the
	// server read and runs with.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// The events of the status pipe.
const (
	eventListening   = "listening"
	eventWorkerReady = "worker_ready"
)

// spec is the launch spec of cfg, for that many worker processes.
func (cfg LaunchConfig) spec(workers int) (launchSpec, error) {
	spec := launchSpec{Name: cfg.Name, Addr: "127.0.0.1:0", Workers: workers,
		Sched: cfg.Sched, Queue: cfg.Queue, Grace: cfg.Grace, Config: cfg.Config}
	if cfg.Extra != nil {
		extra, err := json.Marshal(cfg.Extra)
		if err != nil {
			return launchSpec{}, fmt.Errorf("launch spec: %w", err)
		}
		spec.Extra = extra
	}
	return spec, nil
}

// checkEcho fails unless a server that was given extra settings says it
// runs with them: a build that predates them would ignore them and serve
// with its defaults (a queue's reply mode), and be measured as what it is
// not.
func (s launchSpec) checkEcho(echo json.RawMessage) error {
	if len(s.Extra) == 0 {
		return nil
	}
	var want, got any
	json.Unmarshal(s.Extra, &want)
	if len(echo) == 0 || json.Unmarshal(echo, &got) != nil || !reflect.DeepEqual(want, got) {
		return fmt.Errorf("the server did not confirm the settings %s of its launch spec (a flipbench build older than the one launching it?)", s.Extra)
	}
	return nil
}
