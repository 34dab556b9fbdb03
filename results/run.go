package results

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	// CutShort names, when the interruption cut a round short, the
	// bursts it had measured ("round 2: standard"): they are left out,
	// as a round counts only when every arm measured it, and named so
	// that finished work is never dropped in silence.
	CutShort []string `json:"cut_short,omitempty"`
	// Order is the sequence in which the measured bursts ran, by arm;
	// in a capacity run, the steps.
	Order []string `json:"order"`
	// Arms are the servers measured: the standard arm first, then each
	// cluster, summarized over the rounds.
	Arms []Arm `json:"arms"`
	// Scaling is how the speedup changes with the cluster's size, one
	// curve per policy measured at two sizes or more, with the Universal
	// Scalability Law fitted to it.
	Scaling []Curve `json:"scaling,omitempty"`
	// Searches hold, in a capacity run (bench --capacity), each arm's
	// search: the rates it held and their requests. Such a run has no
	// rounds.
	Searches []Search `json:"searches,omitempty"`
	// CapacityScaling is Scaling for a capacity run: how the capacity
	// speedup changes with the cluster's size, with the law fitted.
	CapacityScaling []Curve `json:"capacity_scaling,omitempty"`
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

	// N is the burst size and Rounds the measured rounds asked for; 0 in
	// a capacity run.
	N      int `json:"n"`
	Rounds int `json:"rounds"`
	// SLOs are a capacity run's objectives, as written ("p99<=3s"), the
	// error bound always among them; Resolution the relative width its
	// searches narrowed to. Empty in a run of bursts.
	SLOs       []string `json:"slos,omitempty"`
	Resolution float64  `json:"resolution,omitempty"`
	// BudgetMs is the time a capacity run was given (0: no bound);
	// HoldMs and MinRequests how long each step held its rate at least,
	// and its fewest requests; MinKeptUp the share of the offered rate a
	// step had to be answered at (results.MinKeptUp when it was written).
	BudgetMs    float64 `json:"budget_ms,omitempty"`
	HoldMs      float64 `json:"hold_ms,omitempty"`
	MinRequests int     `json:"min_requests,omitempty"`
	MinKeptUp   float64 `json:"min_kept_up,omitempty"`
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
	// Exe is the binary's path, SHA256 the hex digest of its bytes: a
	// flipbench build's.
	Exe    string `json:"exe,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Dir is the directory a server under test's commands ran in: its
	// checkout.
	Dir string `json:"dir,omitempty"`
}

// Digest identifies the run by its content: the hex SHA-256 of its JSON.
// The same run file read twice has one digest, so that a history records
// a run once however often it is added.
func (r *Run) Digest() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
