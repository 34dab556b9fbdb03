package agents

import (
	"net/http"
	"time"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// The subjects of the protocol (see the package comment).
const (
	subjectPrefix = "flipbench.load."
	joinSubject   = subjectPrefix + "join"
)

// agentSubject is the subject of an agent's verb: clock, work, cancel
// or bye. An agent listens on its own from its start.
func agentSubject(agentID, verb string) string {
	return subjectPrefix + "agent." + agentID + "." + verb
}

// Timing of the protocol.
const (
	// BeatEvery is how often an agent tells its coordinator it is alive.
	BeatEvery = 500 * time.Millisecond
	// LostAfter is how long a silent agent is given before the
	// coordinator counts it lost (and an agent its coordinator gone).
	LostAfter = 3 * time.Second
	// requestTimeout bounds one request of the protocol: a join, a clock
	// reading, a share of work, a batch of records.
	requestTimeout = 2 * time.Second
	// joinEvery is how often an agent asks to join while it waits.
	joinEvery = time.Second
)

// joinRequest is an agent's request to join.
type joinRequest struct {
	// ID is the agent process's, the same in all its requests: a join
	// asked twice (its answer lost) is answered twice alike, not taken
	// for a second agent.
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// joinReply is the coordinator's answer to a join: the agent's subjects,
// or why not (Full: it has its agents; ask again).
type joinReply struct {
	Full    bool   `json:"full,omitempty"`
	Refused string `json:"refused,omitempty"`
	// Agent is the agent's subject token, Prefix the run's subjects
	// ("flipbench.load.RUN."), Name the name it goes by in the results
	// (its own, made unique).
	Agent  string `json:"agent,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Name   string `json:"name,omitempty"`
}

// clockReply is an agent's clock, read when a clock request came and
// when its answer left.
type clockReply struct {
	Received int64 `json:"received_ns"`
	Sent     int64 `json:"sent_ns"`
}

// work is one agent's share of a round.
type work struct {
	// Seq numbers the coordinator's rounds, warm-ups included, from 1,
	// over all its loads: what records and cancels name.
	Seq int `json:"seq"`
	// WarmUp marks a warm-up, whose records are not sent back.
	WarmUp bool  `json:"warm_up,omitempty"`
	Share  share `json:"share"`
	// Start is the release instant, by the agent's clock.
	Start int64 `json:"start_ns"`
}

// cancelRound calls off an agent's round Seq.
type cancelRound struct {
	Seq int `json:"seq"`
}

// share is the part of a loadgen.Config that crosses to an agent.
type share struct {
	URL          string        `json:"url"`
	Method       string        `json:"method"`
	Body         []byte        `json:"body,omitempty"`
	Header       http.Header   `json:"header,omitempty"`
	Requests     int           `json:"requests,omitempty"`
	RatePerSec   float64       `json:"rate_per_sec,omitempty"`
	Concurrency  int           `json:"concurrency,omitempty"`
	Duration     time.Duration `json:"duration,omitempty"`
	Timeout      time.Duration `json:"timeout,omitempty"`
	KeepAlive    bool          `json:"keepalive,omitempty"`
	Await        string        `json:"await,omitempty"`
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	Insecure     bool          `json:"insecure,omitempty"`
	CACert       []byte        `json:"cacert,omitempty"`
}

// config is the share as a one-round loadgen.Config.
func (s share) config() loadgen.Config {
	cfg := loadgen.Config{
		URL: s.URL, Method: s.Method, Body: s.Body, Header: s.Header,
		Requests: s.Requests, Concurrency: s.Concurrency, Duration: s.Duration, Rounds: 1,
		Timeout: s.Timeout, KeepAlive: s.KeepAlive, Await: s.Await, PollInterval: s.PollInterval,
		Insecure: s.Insecure, CACert: s.CACert,
	}
	if s.RatePerSec > 0 {
		cfg.Rate = loadgen.RateOf(s.RatePerSec)
	}
	return cfg
}

// shareOf is what of cfg every agent gets, before the split.
func shareOf(cfg loadgen.Config) share {
	return share{
		URL: cfg.URL, Method: cfg.Method, Body: cfg.Body, Header: cfg.Header,
		Duration: cfg.Duration, Timeout: cfg.Timeout, KeepAlive: cfg.KeepAlive,
		Await: cfg.Await, PollInterval: cfg.PollInterval, Insecure: cfg.Insecure, CACert: cfg.CACert,
	}
}

// records is a numbered batch of an agent's records of round Seq, with
// when the round began by the agent's clock (0 before it began). The last
// batch has Final set and says how many records there were, how many of
// a warm-up's requests were ok (a warm-up sends none), whether the round
// was cut short (Interrupted: called off, or the agent stopping) and what
// went wrong, if anything did.
type records struct {
	Agent       string           `json:"agent"`
	Seq         int              `json:"seq"`
	Batch       int              `json:"batch"`
	Records     []results.Record `json:"records,omitempty"`
	Started     int64            `json:"started_ns,omitempty"`
	Final       bool             `json:"final,omitempty"`
	Count       int              `json:"count,omitempty"`
	OK          int              `json:"ok,omitempty"`
	Interrupted bool             `json:"interrupted,omitempty"`
	Error       string           `json:"error,omitempty"`
}

// beat is an agent's heartbeat, and beatReply the coordinator's answer.
type beat struct {
	Agent string `json:"agent"`
}

type beatReply struct {
	Known bool `json:"known"`
}

// ack answers a request that needs no more than a yes or why not.
type ack struct {
	Error string `json:"error,omitempty"`
}
