package results

import (
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
// and at each of its other arms (clusters of a size and a dispatch
// policy, queues; of one build, or of a base and a head build), round by
// round. It is the run file's content. Every derived figure (the rounds' stats and speedups, the
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
