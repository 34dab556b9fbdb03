package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// RunSchema names the JSON layout of a [Run]. Files of the older
// [RunSchemaV1] are still read (see [ParseRun]) and are converted.
const (
	RunSchema   = "flipbench/run/v2"
	RunSchemaV1 = "flipbench/run/v1"
)

// The sides of a bench: the single worker and the cluster. They name the
// run file's fields, the servers a bench starts and the table's rows.
const (
	Standard = "standard"
	Cluster  = "cluster"
)

// Sides lists the sides of a run in the order they are shown.
var Sides = []string{Standard, Cluster}

// Run is a bench: the same bursts at a single worker and at a cluster,
// round by round. It is the run file's content. Every derived figure (the
// rounds' stats and speedups, the sides' summaries, the speedup summary) is
// recomputed from the requests by [Run.Derive]: figures stored in a file
// are never trusted.
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
	// Order is the sequence in which the measured bursts ran, by side.
	Order []string `json:"order"`
	// Standard and Cluster summarize each side over the rounds.
	Standard Side `json:"standard"`
	Cluster  Side `json:"cluster"`
	// Speedup summarizes the rounds' speedups.
	Speedup Speedup `json:"speedup"`
	// Rounds holds every complete round: both sides measured.
	Rounds []Round `json:"rounds"`
}

// RunConfig is what a bench measured.
type RunConfig struct {
	// StandardCmd, ClusterCmd and URL describe servers under test that
	// are not flipbench's own, started by shell commands.
	StandardCmd string `json:"standard_cmd,omitempty"`
	ClusterCmd  string `json:"cluster_cmd,omitempty"`
	URL         string `json:"url,omitempty"`

	// N is the burst size and Rounds the measured rounds asked for.
	N      int `json:"n"`
	Rounds int `json:"rounds"`
	// Workers is the cluster's size, Threads GOMAXPROCS in each worker.
	Workers int `json:"workers"`
	Threads int `json:"threads"`
	// Sched is the servers' dispatch policy (empty for servers under
	// test, and in files from before there was a choice: shared).
	Sched string `json:"sched,omitempty"`
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

// Side is one side of a run over all its rounds.
type Side struct {
	// Workers is the number of worker processes that served it.
	Workers int
	// Stats is over the rounds: first and last are the rounds' medians,
	// latencies are over every request.
	Stats
}

// MarshalJSON writes the side with its process count as "workers" and
// the requests each worker answered as "requests_per_worker".
func (s Side) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Workers int `json:"workers"` // hides Stats' load-file key
		Stats
		RequestsPerWorker map[string]int `json:"requests_per_worker"`
	}{s.Workers, s.Stats, s.RequestsPerWorker})
}

// UnmarshalJSON reads the process count; the stats are derived.
func (s *Side) UnmarshalJSON(b []byte) error {
	var v struct {
		Workers int `json:"workers"`
	}
	err := json.Unmarshal(b, &v)
	s.Workers = v.Workers
	return err
}

// Round is one round of a run: the same burst at both sides.
type Round struct {
	// Round is the round's number, from 1.
	Round int `json:"round"`
	// Standard and Cluster are each side's burst.
	Standard RoundSide `json:"standard"`
	Cluster  RoundSide `json:"cluster"`
	// Speedup is standard's last response over cluster's in this round:
	// how much sooner the cluster finished the same burst. It is 0 when
	// either side got no response at all.
	Speedup float64 `json:"speedup"`
}

// Side returns the round's burst at side, which must be one of [Sides].
func (r *Round) Side(side string) *RoundSide {
	if side == Standard {
		return &r.Standard
	}
	return &r.Cluster
}

// RoundSide is one burst at one side.
type RoundSide struct {
	// Stats is the burst's, derived from Results.
	Stats
	// Results is every request of the burst.
	Results []Record
}

// MarshalJSON writes the burst with the requests each worker answered
// as "requests_per_worker".
func (s RoundSide) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Stats
		LoadKey           *struct{}      `json:"workers,omitempty"` // hides Stats' load-file key
		RequestsPerWorker map[string]int `json:"requests_per_worker"`
		Results           []Record       `json:"results"`
	}{Stats: s.Stats, RequestsPerWorker: s.RequestsPerWorker, Results: s.Results})
}

// UnmarshalJSON reads the requests; the stats are derived from them.
func (s *RoundSide) UnmarshalJSON(b []byte) error {
	var v struct {
		Results []Record `json:"results"`
	}
	err := json.Unmarshal(b, &v)
	s.Results = v.Results
	return err
}

// Speedup summarizes the rounds' speedups.
type Speedup struct {
	// Median, Min and Max are over the rounds that have a speedup.
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Rounds is how many rounds have one.
	Rounds int `json:"rounds"`
	// Efficiency is the median speedup per cluster worker: 1.0 would be
	// perfect scaling.
	Efficiency float64 `json:"efficiency"`
}

// Side returns the summary of side, which must be one of [Sides].
func (r *Run) Side(side string) *Side {
	if side == Standard {
		return &r.Standard
	}
	return &r.Cluster
}

// Speedups returns the speedup of every round that has one, in order.
func (r *Run) Speedups() []float64 {
	v := []float64{}
	for _, rd := range r.Rounds {
		if rd.Speedup > 0 {
			v = append(v, rd.Speedup)
		}
	}
	return v
}

// Derive recomputes every derived figure from the requests: each round's
// stats and speedup, each side's summary and the speedup summary.
func (r *Run) Derive() {
	for i := range r.Rounds {
		rd := &r.Rounds[i]
		for _, side := range Sides {
			rs := rd.Side(side)
			rs.Stats = Summarize(rs.Results)
		}
		rd.Speedup = 0
		if rd.Standard.LastMs > 0 && rd.Cluster.LastMs > 0 {
			rd.Speedup = round3(rd.Standard.LastMs / rd.Cluster.LastMs)
		}
	}
	for _, side := range Sides {
		rs := make([]RoundSummary, len(r.Rounds))
		var all []Record
		for i := range r.Rounds {
			s := r.Rounds[i].Side(side)
			rs[i] = RoundSummary{Round: r.Rounds[i].Round, Stats: s.Stats}
			all = append(all, s.Results...)
		}
		r.Side(side).Stats = Combine(rs, all)
	}
	sp := r.Speedups()
	r.Speedup = Speedup{Rounds: len(sp)}
	if len(sp) > 0 {
		sorted := slices.Sorted(slices.Values(sp))
		r.Speedup.Median = round3(Percentile(sorted, 50))
		r.Speedup.Min, r.Speedup.Max = sorted[0], sorted[len(sorted)-1]
		r.Speedup.Efficiency = round3(r.Speedup.Median / float64(max(r.Cluster.Workers, 1)))
	}
}

// ErrFailedRequests is wrapped by [Run.Check] when requests failed.
var ErrFailedRequests = errors.New("requests failed")

// Check returns an error wrapping ErrFailedRequests if any measured
// request failed: a speedup computed over errors means nothing.
func (r *Run) Check() error {
	for _, side := range Sides {
		if s := r.Side(side); s.Errors > 0 {
			return fmt.Errorf("%s: %d of %d %w", side, s.Errors, s.Requests, ErrFailedRequests)
		}
	}
	return nil
}
