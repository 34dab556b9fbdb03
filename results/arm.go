package results

import (
	"encoding/json"
	"fmt"
)

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
	// following its event stream). Empty for other arms.
	Reply string `json:"reply,omitempty"`
	// Baseline names the standard arm that a cluster or queue arm's
	// speedup is measured against; empty for a standard arm.
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
	// Speedup summarizes a cluster or queue arm's rounds' speedups;
	// zero for a standard arm.
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
	// JobMsRefused is set when the server reported job times that cannot
	// be service times (in a round, more than its slots could serve in
	// the round's wall time: a time that counts the wait for an event
	// loop, as Koa's X-Response-Time does); JobMs and the ideal are then
	// left out, unknown.
	JobMsRefused bool
	// CPUPerRequestMs and PeakRSSMB are the medians over the rounds of
	// each round's CPU time a request and peak memory of the server's
	// process tree ([Cost]); 0 where no round measured them.
	CPUPerRequestMs float64
	PeakRSSMB       float64
	// Capacity is, in a capacity run, the arm's capacity at the run's
	// SLOs and what was measured at it; nil otherwise.
	Capacity *ArmCapacity

	// stored is the median speedup the file said, storedCapacity its
	// capacity, to check (ParseRun).
	stored, storedCapacity *float64
}

// MarshalJSON writes the arm: its spec, its stats with the requests each
// worker answered as "requests_per_worker", and what is derived.
func (a Arm) MarshalJSON() ([]byte, error) {
	var speedup *Speedup
	if Scaled(a.Mode) {
		speedup = &a.Speedup
	}
	return json.Marshal(struct {
		// The spec's fields first, every one of them; Stats one level
		// down, so that the spec's "workers" (the arm's process count)
		// hides Stats' load-file key of that name.
		ArmSpec
		deeper
		RequestsPerWorker map[string]int `json:"requests_per_worker"`
		Speedup           *Speedup       `json:"speedup,omitempty"`
		Jain              float64        `json:"jain"`
		JobMs             float64        `json:"job_ms,omitempty"`
		IdealLastMs       float64        `json:"ideal_last_ms,omitempty"`
		JobMsRefused      bool           `json:"job_ms_refused,omitempty"`
		CPUPerRequestMs   float64        `json:"cpu_per_request_ms,omitempty"`
		PeakRSSMB         float64        `json:"peak_rss_mb,omitempty"`
		Capacity          *ArmCapacity   `json:"capacity,omitempty"`
	}{a.ArmSpec, deeper{a.Stats}, a.RequestsPerWorker, speedup, a.Jain, a.JobMs, a.IdealLastMs, a.JobMsRefused, a.CPUPerRequestMs, a.PeakRSSMB, a.Capacity})
}

// deeper holds Stats one embedding level down (see Arm.MarshalJSON).
type deeper struct{ Stats }

// UnmarshalJSON reads the arm's spec, and its stored speedup to check
// against the one derived; the rest is derived.
func (a *Arm) UnmarshalJSON(b []byte) error {
	*a = Arm{}
	var v struct {
		Speedup *struct {
			Median float64 `json:"median"`
		} `json:"speedup"`
		Capacity *struct {
			Rate float64 `json:"rate"`
		} `json:"capacity"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Speedup != nil {
		a.stored = &v.Speedup.Median
	}
	if v.Capacity != nil {
		a.storedCapacity = &v.Capacity.Rate
	}
	return json.Unmarshal(b, &a.ArmSpec)
}

// Speedup summarizes the rounds' speedups of a cluster or a queue arm.
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
