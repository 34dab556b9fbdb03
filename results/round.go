package results

import (
	"encoding/json"
	"slices"
)

// Round is one round of a run: the same burst at every arm.
type Round struct {
	// Round is the round's number, from 1.
	Round int `json:"round"`
	// Arms holds each arm's burst, in the order of the run's arms.
	Arms []RoundSide `json:"arms"`
}

// Side returns the round's burst at the arm called name, nil if it has
// none.
func (r *Round) Side(name string) *RoundSide {
	for i := range r.Arms {
		if r.Arms[i].Arm == name {
			return &r.Arms[i]
		}
	}
	return nil
}

// RoundSide is one burst at one arm.
type RoundSide struct {
	// Arm names the arm.
	Arm string
	// Stats is the burst's, derived from Results.
	Stats
	// Speedup is, for a cluster or queue arm, its baseline's last response over
	// its own in this round: how much sooner the cluster finished the
	// same burst. It is 0 when either got no successful response.
	Speedup float64
	// Results is every request of the burst.
	Results []Record
	// CPU is the CPU time used during the burst, where the bench could
	// measure it (Linux); nil otherwise.
	CPU *CPUUse
	// Disturbed is set when other processes than the bench and its
	// servers used more than [DisturbedCores] of a core during the burst
	// (derived from CPU).
	Disturbed bool
	// Cost is what the burst cost the arm's server, where the bench could
	// measure it (Linux, a server whose process it knows); nil otherwise.
	Cost *Cost
	// CPUPerRequestMs is Cost's CPU time over the requests the burst sent
	// (derived); 0 without a Cost or a request.
	CPUPerRequestMs float64
	// Agents is, for a burst spread over load agents (bench --agents),
	// each agent's part of it; nil for a burst from the bench's process.
	Agents []AgentShare

	// storedSpeedup and storedLast are what the file said, to check.
	storedSpeedup, storedLast *float64
}

// MarshalJSON writes the burst with the requests each worker answered
// as "requests_per_worker".
func (s RoundSide) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Arm string `json:"arm"`
		Stats
		LoadKey           *struct{}      `json:"workers,omitempty"` // hides Stats' load-file key
		RequestsPerWorker map[string]int `json:"requests_per_worker"`
		Speedup           float64        `json:"speedup,omitempty"`
		CPU               *CPUUse        `json:"cpu,omitempty"`
		Disturbed         bool           `json:"disturbed,omitempty"`
		Cost              *Cost          `json:"cost,omitempty"`
		CPUPerRequestMs   float64        `json:"cpu_per_request_ms,omitempty"`
		Agents            []AgentShare   `json:"agents,omitempty"`
		Results           []Record       `json:"results"`
	}{Arm: s.Arm, Stats: s.Stats, RequestsPerWorker: s.RequestsPerWorker, Speedup: s.Speedup, CPU: s.CPU, Disturbed: s.Disturbed,
		Cost: s.Cost, CPUPerRequestMs: s.CPUPerRequestMs, Agents: s.Agents, Results: s.Results})
}

// UnmarshalJSON reads the arm and the requests, and the stored speedup
// and last response to check against those derived; the rest is
// derived.
func (s *RoundSide) UnmarshalJSON(b []byte) error {
	var v struct {
		Arm     string       `json:"arm"`
		Results []Record     `json:"results"`
		Speedup *float64     `json:"speedup"`
		LastMs  *float64     `json:"last_ms"`
		CPU     *CPUUse      `json:"cpu"`
		Cost    *Cost        `json:"cost"`
		Agents  []AgentShare `json:"agents"`
	}
	err := json.Unmarshal(b, &v)
	*s = RoundSide{Arm: v.Arm, Results: v.Results, CPU: v.CPU, Cost: v.Cost, Agents: v.Agents, storedSpeedup: v.Speedup, storedLast: v.LastMs}
	return err
}

// CPUUse is the CPU time used during one burst.
type CPUUse struct {
	// OursMs is the CPU time of the bench and every process it started:
	// the load generator and the servers under test. OtherMs is the rest
	// of the machine's busy time: other processes, the kernel for them.
	OursMs  float64 `json:"ours_ms"`
	OtherMs float64 `json:"other_ms"`
	// WallMs is how long the burst took.
	WallMs float64 `json:"wall_ms"`
}

// Cost is what one burst cost a server under test: the CPU time of its
// whole process tree and the most memory the tree held at once.
type Cost struct {
	// CPUMs is the CPU time (user and system) of the server's process
	// tree during the burst: every process of it, the workers it forked
	// again during the burst included.
	CPUMs float64 `json:"cpu_ms"`
	// PeakRSSMB is the highest sum of the tree's resident memory (RSS)
	// among samples taken every SampleMs during the burst, in MiB: what
	// the machine held for the server at once, which is not the sum of
	// each process's own peak (VmHWM), reached at different moments.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	SampleMs  float64 `json:"sample_ms"`
	// Samples is how many samples were taken.
	Samples int `json:"samples"`
}

// DisturbedCores is how much of a core other processes may use during
// a burst before the burst counts as disturbed: a quarter. A CPU-bound
// cluster using every core loses about that much of its speed to them.
const DisturbedCores = 0.25

// disturbed reports whether others used more than DisturbedCores of a
// core, and at least five clock ticks (50 ms): /proc counts CPU time in
// 10 ms ticks, sampled a moment apart for the machine and for the
// processes, so two or three ticks of "others" in a 50 ms burst are the
// counting's noise (20 same-build paired --quick benches showed them in
// 16 runs), not another process.
func (c *CPUUse) disturbed() bool {
	return c != nil && c.WallMs > 0 && c.OtherMs > DisturbedCores*c.WallMs && c.OtherMs >= 50
}

// Disturbed reports whether any burst of the round was disturbed.
func (r *Round) Disturbed() bool {
	for _, s := range r.Arms {
		if s.Disturbed {
			return true
		}
	}
	return false
}

// DisturbedRounds lists the rounds with a disturbed burst, by number.
func (r *Run) DisturbedRounds() []int {
	var v []int
	for i := range r.Rounds {
		if r.Rounds[i].Disturbed() {
			v = append(v, r.Rounds[i].Round)
		}
	}
	return v
}

// DropRounds removes the rounds numbered in drop and derives again.
func (r *Run) DropRounds(drop []int) {
	r.Rounds = slices.DeleteFunc(r.Rounds, func(rd Round) bool { return slices.Contains(drop, rd.Round) })
	r.Derive()
}
