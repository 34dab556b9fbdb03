package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// RunSchema names the JSON layout of a [Run]. Files of the older
// schemas are still read (see [ParseRun]) and are converted.
const (
	RunSchema   = "flipbench/run/v3"
	RunSchemaV2 = "flipbench/run/v2"
	RunSchemaV1 = "flipbench/run/v1"
)

// The modes of an [Arm]: the single worker, the cluster, and the queue
// (flipbench queue: a front that puts each request on a NATS JetStream
// work queue that its workers pull from). They are the arms' names when
// a bench measures one of each.
const (
	Standard = "standard"
	Cluster  = "cluster"
	Queue    = "queue"
)

// Scaled reports whether an arm of mode is measured against a standard
// arm: a cluster or a queue, both with a speedup and an efficiency.
func Scaled(mode string) bool { return mode == Cluster || mode == Queue }

// Run is a bench: the same bursts at a single worker (the standard arm)
// and at one or more clusters, round by round. It is the run file's
// content. Every derived figure (the rounds' stats and speedups, the
// arms' summaries) is recomputed from the requests by [Run.Derive]:
// figures stored in a file are never trusted.
type Run struct {
	// Schema is [RunSchema].
	Schema string `json:"schema"`
	// Env is the machine and build; Config what was measured.
	Env    Env       `json:"env"`
	Config RunConfig `json:"config"`
	// Started is when the bench began (RFC 3339), WallMs how long it took.
	Started string  `json:"started"`
	WallMs  float64 `json:"wall_ms"`
	// Interrupted is set when the bench was stopped early: the rounds
	// that finished are all here, and every summary is over those.
	Interrupted bool `json:"interrupted,omitempty"`
	// Order is the sequence in which the measured bursts ran, by arm.
	Order []string `json:"order"`
	// Arms are the servers measured: the standard arm first, then each
	// cluster, summarized over the rounds.
	Arms []Arm `json:"arms"`
	// Scaling is how the speedup changes with the cluster's size, one
	// curve per policy measured at two sizes or more, with the Universal
	// Scalability Law fitted to it.
	Scaling []Curve `json:"scaling,omitempty"`
	// Rounds holds every complete round: every arm measured.
	Rounds []Round `json:"rounds"`
}

// RunConfig is what a bench measured.
type RunConfig struct {
	// StandardCmd, ClusterCmd and URL describe servers under test that
	// are not flipbench's own, started by shell commands. ClusterCmd may
	// hold a {workers} placeholder; each arm has its own command.
	StandardCmd string `json:"standard_cmd,omitempty"`
	ClusterCmd  string `json:"cluster_cmd,omitempty"`
	URL         string `json:"url,omitempty"`

	// N is the burst size and Rounds the measured rounds asked for.
	N      int `json:"n"`
	Rounds int `json:"rounds"`
	// Threads is GOMAXPROCS in each worker (0: all CPUs).
	Threads int `json:"threads"`
	// Builds are the two flipbench binaries of a paired A/B bench
	// (base and head); empty for a bench of one build.
	Builds []Build `json:"builds,omitempty"`
	// Image is what the servers flipped (empty for servers under test).
	Image ImageInfo `json:"image"`
}

// ImageInfo describes the image a server flips when a request has no body.
type ImageInfo struct {
	// Name is the file's path or "fixture:NAME".
	Name string `json:"name"`
	// SHA256 is the hex digest of the file's bytes, Bytes their count.
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Format, Width, Height and Pixels come from the image header.
	Format string `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Pixels int    `json:"pixels"`
}

// The builds of a paired A/B bench: every round measures both.
const (
	Base = "base"
	Head = "head"
)

// Build is one binary of a paired A/B bench.
type Build struct {
	// Name is [Base] or [Head].
	Name string `json:"name"`
	// Exe is the binary's path, SHA256 the hex digest of its bytes.
	Exe    string `json:"exe"`
	SHA256 string `json:"sha256"`
}

// ArmSpec is what identifies an arm: the part of it a bench decides and
// a run file stores; everything else in an [Arm] is derived.
type ArmSpec struct {
	// Name identifies the arm in the run, its tables and its metrics:
	// "standard" and "cluster" when a bench measures one cluster, and
	// "cluster/rr", "cluster/4w", "cluster/4w/rr" when it measures
	// several (see [ArmName]); a paired A/B bench puts the build first:
	// "base/cluster", "head/standard".
	Name string `json:"name"`
	// Build is the arm's build in a paired A/B bench, [Base] or [Head];
	// empty otherwise.
	Build string `json:"build,omitempty"`
	// Mode is [Standard], [Cluster] or [Queue].
	Mode string `json:"mode"`
	// Workers is the number of worker processes that served it.
	Workers int `json:"workers"`
	// Sched is the dispatch policy of flipbench's own servers; empty for
	// servers under test and in files from before there was a choice.
	Sched string `json:"sched,omitempty"`
	// Command is the shell command that started a server under test.
	Command string `json:"command,omitempty"`
	// Reply is how a queue arm's front answered: "wait" (when the job
	// was done) or "async" (202 at once, the job then awaited by
	// polling its location). Empty for other arms.
	Reply string `json:"reply,omitempty"`
	// Baseline names the standard arm that a cluster arm's speedup is
	// measured against; empty for a standard arm.
	Baseline string `json:"baseline,omitempty"`
}

// ArmName names a cluster arm after what sets it apart from the others
// of its bench: its size when sizes vary, its policy when policies vary
// ("cluster/4w/rr"); just "cluster" when it is the only one.
func ArmName(workers int, sched string, sizesVary, schedsVary bool) string {
	name := Cluster
	if sizesVary {
		name += fmt.Sprintf("/%dw", workers)
	}
	if schedsVary {
		name += "/" + sched
	}
	return name
}

// BuildArmName is name within build: "head/cluster".
func BuildArmName(build, name string) string {
	if build == "" {
		return name
	}
	return build + "/" + name
}

// Arm is one server of a run over all its rounds.
type Arm struct {
	// ArmSpec identifies the arm (its JSON is written by MarshalJSON).
	ArmSpec `json:"-"`
	// Stats is over the rounds: first and last are the rounds' medians,
	// latencies are over every request.
	Stats
	// Speedup summarizes a cluster arm's rounds' speedups; zero for the
	// standard arm.
	Speedup Speedup
	// Jain is the median over the rounds of each round's Jain's fairness
	// index of the requests each worker answered: 1 is perfectly even
	// (see [Jain]).
	Jain float64
	// JobMs is the median time a job took as the server reported it
	// (X-Response-Time); 0 when it did not.
	JobMs float64
	// IdealLastMs is when the last response of a burst would arrive if
	// the workers took the jobs with no gaps and no imbalance:
	// ⌈N/workers⌉ × JobMs. 0 without JobMs.
	IdealLastMs float64

	// stored is the median speedup the file said, to check (ParseRun).
	stored *float64
}

// MarshalJSON writes the arm: its spec, its stats with the requests each
// worker answered as "requests_per_worker", and what is derived.
func (a Arm) MarshalJSON() ([]byte, error) {
	var speedup *Speedup
	if Scaled(a.Mode) {
		speedup = &a.Speedup
	}
	s := a.ArmSpec
	return json.Marshal(struct {
		// The spec's fields, at the top so that "workers" is the arm's
		// process count and hides Stats' load-file key.
		Name     string `json:"name"`
		Build    string `json:"build,omitempty"`
		Mode     string `json:"mode"`
		Workers  int    `json:"workers"`
		Sched    string `json:"sched,omitempty"`
		Command  string `json:"command,omitempty"`
		Reply    string `json:"reply,omitempty"`
		Baseline string `json:"baseline,omitempty"`
		Stats
		RequestsPerWorker map[string]int `json:"requests_per_worker"`
		Speedup           *Speedup       `json:"speedup,omitempty"`
		Jain              float64        `json:"jain"`
		JobMs             float64        `json:"job_ms,omitempty"`
		IdealLastMs       float64        `json:"ideal_last_ms,omitempty"`
	}{s.Name, s.Build, s.Mode, s.Workers, s.Sched, s.Command, s.Reply, s.Baseline, a.Stats, a.RequestsPerWorker,
		speedup, a.Jain, a.JobMs, a.IdealLastMs})
}

// UnmarshalJSON reads the arm's spec, and its stored speedup to check
// against the one derived; the rest is derived.
func (a *Arm) UnmarshalJSON(b []byte) error {
	*a = Arm{}
	var v struct {
		Speedup *struct {
			Median float64 `json:"median"`
		} `json:"speedup"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Speedup != nil {
		a.stored = &v.Speedup.Median
	}
	return json.Unmarshal(b, &a.ArmSpec)
}

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
	// Speedup is, for a cluster arm, its baseline's last response over
	// its own in this round: how much sooner the cluster finished the
	// same burst. It is 0 when either got no response at all.
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
		Results           []Record       `json:"results"`
	}{Arm: s.Arm, Stats: s.Stats, RequestsPerWorker: s.RequestsPerWorker, Speedup: s.Speedup, CPU: s.CPU, Disturbed: s.Disturbed, Results: s.Results})
}

// UnmarshalJSON reads the arm and the requests, and the stored speedup
// and last response to check against those derived; the rest is
// derived.
func (s *RoundSide) UnmarshalJSON(b []byte) error {
	var v struct {
		Arm     string   `json:"arm"`
		Results []Record `json:"results"`
		Speedup *float64 `json:"speedup"`
		LastMs  *float64 `json:"last_ms"`
		CPU     *CPUUse  `json:"cpu"`
	}
	err := json.Unmarshal(b, &v)
	*s = RoundSide{Arm: v.Arm, Results: v.Results, CPU: v.CPU, storedSpeedup: v.Speedup, storedLast: v.LastMs}
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

// Speedup summarizes the rounds' speedups of a cluster arm.
type Speedup struct {
	// Median, Min and Max are over the rounds that have a speedup.
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Rounds is how many rounds have one.
	Rounds int `json:"rounds"`
	// Efficiency is the median speedup per worker of the cluster over
	// its baseline's: 1.0 would be perfect scaling.
	Efficiency float64 `json:"efficiency"`
}

// Arm returns the arm called name, nil if the run has none.
func (r *Run) Arm(name string) *Arm {
	for i := range r.Arms {
		if r.Arms[i].Name == name {
			return &r.Arms[i]
		}
	}
	return nil
}

// Standard returns the run's first standard arm: the baseline of its
// speedups and of the "standard." metrics. Nil for an empty run.
func (r *Run) Standard() *Arm { return r.first(Standard) }

// Cluster returns the run's first cluster arm, or its first queue arm
// when it measured no cluster: the one its "speedup", "efficiency" and
// "cluster." metrics read. Nil for an empty run.
func (r *Run) Cluster() *Arm {
	if a := r.first(Cluster); a != nil {
		return a
	}
	return r.first(Queue)
}

func (r *Run) first(mode string) *Arm {
	for i := range r.Arms {
		if r.Arms[i].Mode == mode {
			return &r.Arms[i]
		}
	}
	return nil
}

// Paired reports whether the run is a paired A/B bench: arms of a base
// and a head build, measured in the same rounds.
func (r *Run) Paired() bool {
	return len(r.Config.Builds) == 2
}

// Pair is a cluster arm of the head build and its counterpart in the
// base build, each with the standard arm its speedup is against.
type Pair struct {
	// Name is the arms' name within their build: "cluster", "cluster/rr".
	Name                      string
	BaseStandard, BaseCluster *Arm
	HeadStandard, HeadCluster *Arm
}

// Pairs returns the pairs of a paired A/B run, in the head arms' order.
func (r *Run) Pairs() []Pair {
	var out []Pair
	for _, hc := range r.Clusters() {
		if hc.Build != Head {
			continue
		}
		name := strings.TrimPrefix(hc.Name, Head+"/")
		bc := r.Arm(BuildArmName(Base, name))
		if bc == nil {
			continue
		}
		out = append(out, Pair{Name: name, BaseStandard: r.Arm(bc.Baseline), BaseCluster: bc,
			HeadStandard: r.Arm(hc.Baseline), HeadCluster: hc})
	}
	return out
}

// Scaled returns the arms measured against a standard arm (clusters and
// queues), in order.
func (r *Run) Scaled() []*Arm {
	var v []*Arm
	for i := range r.Arms {
		if Scaled(r.Arms[i].Mode) {
			v = append(v, &r.Arms[i])
		}
	}
	return v
}

// Clusters returns the cluster arms, in order.
func (r *Run) Clusters() []*Arm {
	var v []*Arm
	for i := range r.Arms {
		if r.Arms[i].Mode == Cluster {
			v = append(v, &r.Arms[i])
		}
	}
	return v
}

// Speedups returns the speedup of every round that has one at the arm
// called name, in order.
func (r *Run) Speedups(name string) []float64 {
	v := []float64{}
	for i := range r.Rounds {
		if s := r.Rounds[i].Side(name); s != nil && s.Speedup > 0 {
			v = append(v, s.Speedup)
		}
	}
	return v
}

// ErrMalformedRun is wrapped by [Run.Validate] for a run whose arms and
// rounds do not fit together.
var ErrMalformedRun = errors.New("malformed run")

// Validate checks the run's shape: arm names unique, a standard arm
// first and at least one cluster or queue arm, each one's baseline a
// standard arm, and every round holding every arm, in the arms' order.
func (r *Run) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrMalformedRun)
	}
	if len(r.Arms) < 2 || r.Arms[0].Mode != Standard || r.Cluster() == nil {
		return bad("want a standard arm first and at least one cluster or queue arm, got %d arms", len(r.Arms))
	}
	seen := map[string]bool{}
	for _, a := range r.Arms {
		switch {
		case a.Name == "" || seen[a.Name]:
			return bad("arm name %q empty or repeated", a.Name)
		case a.Mode != Standard && !Scaled(a.Mode):
			return bad("arm %s: mode %q", a.Name, a.Mode)
		case a.Workers < 1:
			return bad("arm %s: %d workers", a.Name, a.Workers)
		case Scaled(a.Mode) && (r.Arm(a.Baseline) == nil || r.Arm(a.Baseline).Mode != Standard):
			return bad("arm %s: baseline %q is not a standard arm", a.Name, a.Baseline)
		case Scaled(a.Mode) && r.Arm(a.Baseline).Build != a.Build:
			return bad("arm %s of build %q: baseline %s is of build %q", a.Name, a.Build, a.Baseline, r.Arm(a.Baseline).Build)
		}
		seen[a.Name] = true
	}
	for _, rd := range r.Rounds {
		if len(rd.Arms) != len(r.Arms) {
			return bad("round %d has %d arms, the run %d", rd.Round, len(rd.Arms), len(r.Arms))
		}
		for i := range rd.Arms {
			if rd.Arms[i].Arm != r.Arms[i].Name {
				return bad("round %d: arm %d is %q, want %q", rd.Round, i+1, rd.Arms[i].Arm, r.Arms[i].Name)
			}
		}
	}
	return nil
}

// Derive recomputes every derived figure from the requests: each round's
// stats and speedups, and each arm's summary, speedup, fairness and
// ideal. The run must be valid ([Run.Validate]).
func (r *Run) Derive() {
	for i := range r.Rounds {
		rd := &r.Rounds[i]
		for j := range rd.Arms {
			rd.Arms[j].Stats = Summarize(rd.Arms[j].Results)
			rd.Arms[j].Disturbed = rd.Arms[j].CPU.disturbed()
		}
		for j := range rd.Arms {
			s := &rd.Arms[j]
			s.Speedup = 0
			base := rd.Side(r.Arms[j].Baseline)
			if Scaled(r.Arms[j].Mode) && base != nil && base.LastMs > 0 && s.LastMs > 0 {
				s.Speedup = round3(base.LastMs / s.LastMs)
			}
		}
	}
	for j := range r.Arms {
		a := &r.Arms[j]
		rs := make([]RoundSummary, len(r.Rounds))
		var all []Record
		var jobs []float64
		for i := range r.Rounds {
			s := &r.Rounds[i].Arms[j]
			rs[i] = RoundSummary{Round: r.Rounds[i].Round, Stats: s.Stats}
			all = append(all, s.Results...)
			for _, rec := range s.Results {
				if rec.JobMs > 0 {
					jobs = append(jobs, rec.JobMs)
				}
			}
		}
		a.Stats = Combine(rs, all)
		// Per round: a cluster that gives one worker 7 of 10 in one round
		// and 3 in the next is even over the run, and late in each round.
		var jains []float64
		for i := range r.Rounds {
			if rpw := r.Rounds[i].Arms[j].RequestsPerWorker; len(rpw) > 0 {
				jains = append(jains, Jain(rpw, a.Workers))
			}
		}
		a.Jain = round3(Median(jains))
		a.JobMs, a.IdealLastMs = round3(Median(jobs)), 0
		if a.JobMs > 0 && r.Config.N > 0 {
			a.IdealLastMs = round3(math.Ceil(float64(r.Config.N)/float64(a.Workers)) * a.JobMs)
		}
		a.Speedup = Speedup{}
		if !Scaled(a.Mode) {
			continue
		}
		sp := r.Speedups(a.Name)
		a.Speedup.Rounds = len(sp)
		if len(sp) > 0 {
			sorted := slices.Sorted(slices.Values(sp))
			a.Speedup.Median = round3(Percentile(sorted, 50))
			a.Speedup.Min, a.Speedup.Max = sorted[0], sorted[len(sorted)-1]
			baseWorkers := 1
			if b := r.Arm(a.Baseline); b != nil {
				baseWorkers = b.Workers
			}
			a.Speedup.Efficiency = round3(a.Speedup.Median * float64(baseWorkers) / float64(a.Workers))
		}
	}
	r.Scaling = r.curves()
}

// ErrInconsistentRun is wrapped by [ParseRun] for a file whose stored
// figures disagree with its requests, or whose requests hold times no
// clock gives: such a file was edited, or written by something else.
var ErrInconsistentRun = errors.New("figures disagree with the requests")

// checkStored compares the figures a file stored with those derived
// from its requests, and checks that every request's times are
// finite and not negative. Call it after Derive.
func (r *Run) checkStored() error {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-3+1e-6*math.Abs(b) }
	for _, rd := range r.Rounds {
		for _, s := range rd.Arms {
			for _, rec := range s.Results {
				for _, v := range []float64{rec.SentMs, rec.LatencyMs, rec.EndMs, rec.QueueMs, rec.JobMs} {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e9 {
						return fmt.Errorf("round %d %s: request %d has a time of %v ms: %w", rd.Round, s.Arm, rec.Seq, v, ErrInconsistentRun)
					}
				}
			}
			if s.storedSpeedup != nil && !near(*s.storedSpeedup, s.Speedup) {
				return fmt.Errorf("round %d %s: the file says speedup %v, its requests give %v: %w", rd.Round, s.Arm, *s.storedSpeedup, s.Speedup, ErrInconsistentRun)
			}
			if s.storedLast != nil && !near(*s.storedLast, s.LastMs) {
				return fmt.Errorf("round %d %s: the file says last response %v ms, its requests give %v ms: %w", rd.Round, s.Arm, *s.storedLast, s.LastMs, ErrInconsistentRun)
			}
		}
	}
	for _, a := range r.Arms {
		if a.stored != nil && !near(*a.stored, a.Speedup.Median) {
			return fmt.Errorf("%s: the file says median speedup %v, its rounds give %v: %w", a.Name, *a.stored, a.Speedup.Median, ErrInconsistentRun)
		}
	}
	return nil
}

// ErrFailedRequests is wrapped by [Run.Check] when requests failed.
var ErrFailedRequests = errors.New("requests failed")

// Check returns an error wrapping ErrFailedRequests if any measured
// request failed: a speedup computed over errors means nothing.
func (r *Run) Check() error {
	for _, a := range r.Arms {
		if a.Errors > 0 {
			return fmt.Errorf("%s: %d of %d %w", a.Name, a.Errors, a.Requests, ErrFailedRequests)
		}
	}
	return nil
}
