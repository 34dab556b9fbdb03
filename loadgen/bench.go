package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/flipbench/flipbench/server"
)

// RunSchema names the JSON layout of a [BenchRun].
const RunSchema = "flipbench/run/v1"

// The modes a bench compares.
const (
	ModeStandard = "standard"
	ModeCluster  = "cluster"
)

// DefaultRounds is how many measured rounds a bench runs per mode: six,
// the fewest for which a 95% confidence interval of the median exists
// without assumptions, so that compare can give one.
const DefaultRounds = 6

// BenchConfig describes a bench: the same bursts at `flipbench standard`
// and at `flipbench cluster`, both started for the occasion.
type BenchConfig struct {
	// Exe is the flipbench binary that serves. Empty means this program.
	Exe string
	// Server is both servers' configuration (Image, Threads, Quality...).
	Server server.Config
	// Workers is the cluster's size. Zero means one per CPU.
	Workers int
	// Requests is the burst size. Zero means [DefaultRequests].
	Requests int
	// Rounds is the number of measured rounds per mode. Zero means
	// [DefaultRounds].
	Rounds int
	// Timeout bounds each request. Zero means [DefaultTimeout].
	Timeout time.Duration
	// Version and Commit identify the program in the run's environment.
	Version, Commit string
	// Logs receives the servers' logs (JSON lines). Nil discards them.
	Logs io.Writer
	// Progress, if set, is called as requests complete; label is
	// "standard", "cluster" or "warm-up".
	Progress func(label string, p Progress)
	// StandardCmd and ClusterCmd, when set (both), are shell commands that
	// start the servers to compare instead of flipbench's own, for any
	// server under test. Both must serve URL, so they run one after the
	// other: all standard rounds, then all cluster rounds. Workers should
	// then say how many workers ClusterCmd runs.
	StandardCmd, ClusterCmd string
	// URL is the full URL to load when the servers are commands.
	URL string
}

func (c BenchConfig) external() bool { return c.StandardCmd != "" || c.ClusterCmd != "" }

// BenchRun is the result of [Bench], and the run file's content.
type BenchRun struct {
	// Schema is RunSchema.
	Schema string `json:"schema"`
	// Env is the machine and build; Config what was measured.
	Env    Env      `json:"env"`
	Config RunSetup `json:"config"`
	// Started is when the bench began (RFC 3339), WallMs how long it took.
	Started string  `json:"started"`
	WallMs  float64 `json:"wall_ms"`
	// Order is the sequence in which the measured bursts ran.
	Order []string `json:"order"`
	// Modes holds standard, then cluster.
	Modes []ModeRun `json:"modes"`
	// Speedup compares them, round by round.
	Speedup Speedup `json:"speedup"`
	// Interrupted is set when the bench was stopped early: the rounds
	// that finished are all here, and the speedup is over those.
	Interrupted bool `json:"interrupted,omitempty"`
}

// RunSetup is what was measured.
type RunSetup struct {
	// StandardCmd, ClusterCmd and URL describe servers under test that
	// are not flipbench's own (see BenchConfig).
	StandardCmd string `json:"standard_cmd,omitempty"`
	ClusterCmd  string `json:"cluster_cmd,omitempty"`
	URL         string `json:"url,omitempty"`

	// N is the burst size and Rounds the measured rounds asked for.
	N      int `json:"n"`
	Rounds int `json:"rounds"`
	// Workers is the cluster's size, Threads GOMAXPROCS in each worker.
	Workers int `json:"workers"`
	Threads int `json:"threads"`
	// Image is what the servers flipped (empty for servers under test).
	Image server.ImageInfo `json:"image"`
}

// ModeRun is one server's measurements.
type ModeRun struct {
	// Mode is "standard" or "cluster".
	Mode string `json:"mode"`
	// Workers is the number of worker processes. (Stats.Workers, in JSON
	// "workers", counts the requests each worker PID answered.)
	Workers int `json:"worker_processes"`
	// Stats is over the measured rounds (first and last: their medians).
	Stats
	Rounds []ModeRound `json:"rounds"`
}

// ModeRound is one measured burst at one server.
type ModeRound struct {
	// Round is the round's number, from 1.
	Round int `json:"round"`
	// Stats is the burst's; Results its requests.
	Stats
	Results []Record `json:"results"`
}

// Speedup is standard's last response over cluster's, paired by round:
// how much sooner the cluster finished the same burst.
type Speedup struct {
	// Median, Min and Max are over the rounds; PerRound has each.
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	PerRound []float64 `json:"per_round"`
	// Efficiency is the median speedup per cluster worker: 1.0 would be
	// perfect scaling.
	Efficiency float64 `json:"efficiency"`
}

// Bench launches `flipbench standard` and `flipbench cluster`, warms each
// up with a discarded burst (one request per worker), runs Rounds
// measured bursts at each in ABBA order (standard, cluster, cluster,
// standard, ...), so that a drift in the machine's speed weighs on both
// modes alike, and stops both servers. When ctx is cancelled it stops
// early and returns the rounds that finished, with Interrupted set.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchRun, error) {
	rounds := cfg.Rounds
	if rounds == 0 {
		rounds = DefaultRounds
	}
	n := cfg.Requests
	if n == 0 {
		n = DefaultRequests
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	if rounds < 1 || n < 1 || workers < 1 {
		return nil, fmt.Errorf("bench: rounds, requests and workers must be >= 1")
	}
	if cfg.external() && (cfg.StandardCmd == "" || cfg.ClusterCmd == "" || cfg.URL == "") {
		return nil, errors.New("bench: servers under test need both commands and the URL")
	}
	var img server.ImageInfo
	if !cfg.external() {
		var err error
		if img, err = cfg.Server.ImageInfo(); err != nil {
			return nil, err
		}
	}
	run := &BenchRun{
		Schema: RunSchema,
		Env:    CurrentEnv(cfg.Version, cfg.Commit),
		Config: RunSetup{N: n, Rounds: rounds, Workers: workers, Threads: cfg.Server.Threads, Image: img,
			StandardCmd: cfg.StandardCmd, ClusterCmd: cfg.ClusterCmd, URL: cfg.URL},
		Started: time.Now().UTC().Format(time.RFC3339),
		Order:   []string{},
		Modes: []ModeRun{
			{Mode: ModeStandard, Workers: 1, Rounds: []ModeRound{}},
			{Mode: ModeCluster, Workers: workers, Rounds: []ModeRound{}},
		},
	}
	start := time.Now()

	servers := make([]*server.Instance, 2)
	stop := func(i int) error {
		if servers[i] == nil {
			return nil
		}
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*server.DefaultGrace)
		defer cancel()
		err := servers[i].Stop(stopCtx)
		servers[i] = nil
		if err != nil {
			return fmt.Errorf("stop %s: %w", run.Modes[i].Mode, err)
		}
		return nil
	}
	defer func() {
		for i := range servers {
			stop(i)
		}
	}()
	launch := func(i int) error {
		var err error
		if cfg.external() {
			servers[i], err = server.LaunchCommand(ctx, server.CommandConfig{
				Command: []string{cfg.StandardCmd, cfg.ClusterCmd}[i], URL: cfg.URL, Stderr: cfg.Logs,
			})
		} else {
			servers[i], err = server.Launch(ctx, server.LaunchConfig{
				Exe: cfg.Exe, Mode: run.Modes[i].Mode, Workers: run.Modes[i].Workers, Config: cfg.Server, Stderr: cfg.Logs,
			})
		}
		return err
	}
	burst := func(i, size int, label string) (*Summary, error) {
		url := cfg.URL
		if !cfg.external() {
			url = servers[i].URL + "/flip"
		}
		c := Config{URL: url, Requests: size, Timeout: cfg.Timeout}
		if cfg.Progress != nil {
			c.Progress = func(p Progress) { cfg.Progress(label, p) }
		}
		return Run(ctx, c)
	}
	// measure runs round r at mode i; nil means it was interrupted.
	measure := func(i, r int) (*ModeRound, error) {
		sum, err := burst(i, n, fmt.Sprintf("%s %d/%d", run.Modes[i].Mode, r, rounds))
		if err != nil || sum.Interrupted {
			return nil, err
		}
		for j := range sum.Results {
			sum.Results[j].Round = r
		}
		return &ModeRound{Round: r, Stats: sum.Stats, Results: sum.Results}, nil
	}
	warmUp := func(i int) error {
		_, err := burst(i, min(n, run.Modes[i].Workers), "warm-up "+run.Modes[i].Mode)
		return err
	}
	interrupted := func(err error) (*BenchRun, error) {
		if ctx.Err() != nil {
			run.Interrupted = true
			return run, nil
		}
		return nil, err
	}

	if cfg.external() {
		// Both commands serve one URL: one server at a time, all its
		// rounds, then the other; rounds pair by number.
		var got [2][]ModeRound
		for i := range run.Modes {
			if err := launch(i); err != nil {
				return interrupted(err)
			}
			if err := warmUp(i); err != nil {
				return nil, err
			}
			for r := 1; r <= rounds && ctx.Err() == nil; r++ {
				mr, err := measure(i, r)
				if err != nil {
					return nil, err
				}
				if mr == nil {
					break
				}
				got[i] = append(got[i], *mr)
			}
			if err := stop(i); err != nil && ctx.Err() == nil {
				return nil, err
			}
			if ctx.Err() != nil {
				break
			}
		}
		k := min(len(got[0]), len(got[1]))
		for i := range run.Modes {
			run.Modes[i].Rounds = append(run.Modes[i].Rounds, got[i][:k]...)
			for range k {
				run.Order = append(run.Order, run.Modes[i].Mode)
			}
		}
	} else {
		for i := range run.Modes {
			if err := launch(i); err != nil {
				return interrupted(err)
			}
		}
		for i := range run.Modes {
			if err := warmUp(i); err != nil {
				return nil, err
			}
		}
		for r := 1; r <= rounds && ctx.Err() == nil; r++ {
			order := []int{0, 1}
			if r%2 == 0 {
				order = []int{1, 0}
			}
			var got [2]*ModeRound
			var ran []string
			for _, i := range order {
				mr, err := measure(i, r)
				if err != nil {
					return nil, err
				}
				if mr == nil {
					break
				}
				got[i] = mr
				ran = append(ran, run.Modes[i].Mode)
			}
			if got[0] == nil || got[1] == nil {
				break // a round counts only with both halves
			}
			run.Order = append(run.Order, ran...)
			for i := range run.Modes {
				run.Modes[i].Rounds = append(run.Modes[i].Rounds, *got[i])
			}
		}
	}
	run.Interrupted = ctx.Err() != nil
	for i := range run.Modes {
		run.Modes[i].Stats = combineModeRounds(run.Modes[i].Rounds)
	}
	run.Speedup = speedup(run.Modes[0].Rounds, run.Modes[1].Rounds, workers)
	run.WallMs = msOf(time.Since(start))

	for i := range servers {
		if err := stop(i); err != nil && !run.Interrupted {
			return run, err
		}
	}
	return run, nil
}

// ErrFailedRequests is returned by [BenchRun.Check] when requests failed.
var ErrFailedRequests = errors.New("requests failed")

// Check returns an error wrapping ErrFailedRequests if any measured
// request failed: a speedup computed over errors means nothing.
func (r *BenchRun) Check() error {
	for _, m := range r.Modes {
		if m.Errors > 0 {
			return fmt.Errorf("%s: %d of %d %w", m.Mode, m.Errors, m.Requests, ErrFailedRequests)
		}
	}
	return nil
}

func combineModeRounds(rounds []ModeRound) Stats {
	rs := make([]RoundSummary, len(rounds))
	var all []Record
	for i, r := range rounds {
		rs[i] = RoundSummary{Round: r.Round, Stats: r.Stats}
		all = append(all, r.Results...)
	}
	return combine(rs, all)
}

func speedup(standard, cluster []ModeRound, workers int) Speedup {
	s := Speedup{PerRound: []float64{}}
	for i := range min(len(standard), len(cluster)) {
		if cluster[i].LastMs > 0 && standard[i].LastMs > 0 {
			s.PerRound = append(s.PerRound, round3(standard[i].LastMs/cluster[i].LastMs))
		}
	}
	if len(s.PerRound) == 0 {
		return s
	}
	sorted := slices.Sorted(slices.Values(s.PerRound))
	s.Median = round3(Percentile(sorted, 50))
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Efficiency = round3(s.Median / float64(workers))
	return s
}
