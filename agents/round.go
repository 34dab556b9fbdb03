package agents

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// partKey names one agent's part of one round, by the round's Seq.
type partKey struct {
	agent string
	seq   int
}

// part is one agent's part of one round, as it comes back.
type part struct {
	mb            *member
	sh            share
	round, seq    int           // the load's round (0: its warm-up), and the protocol's
	phase         time.Duration // its start after the round's instant (a rate's stagger)
	offset, bound time.Duration // the agent's clock, measured before the round
	recs          []results.Record
	batches       map[int]bool // the batch numbers come: a batch sent twice counts once
	told          int          // records passed to OnResult and counted by Progress
	final         bool         // the last message came
	count         int          // the records the agent says it sent
	ok            int          // a warm-up's ok requests, as the agent counted them
	started       int64        // when its share began, by its clock; 0 if it did not
	interrupted   bool         // the agent's round was cut short
	calledOff     bool         // by the coordinator
	err           string       // what the agent says went wrong
	missing       string       // why the part is missing or short
}

// ErrResultsFile means a load spread over agents was asked to write
// vegeta's encoding of its results: each agent would have its own.
var ErrResultsFile = errors.New("vegeta's results file is written by a load from one process, not by agents")

// Run sends the load of cfg through the agents and returns one summary
// of it, as [loadgen.Run] does: every round split between the agents in
// the run (the first waits for Config.Agents of them), released at one
// instant, the records merged, their times counted from that instant by
// the coordinator's clock. Each agent's part of each round is in the
// summary's Agents; a part missing or short (an agent lost, or silent
// past its time) is named in Incomplete, and the round goes on without
// it. When ctx is cancelled the agents' rounds are called off and Run
// returns what came back, Interrupted. It returns an error for an
// invalid cfg, or too few agents within the join timeout.
func (c *Coordinator) Run(ctx context.Context, cfg loadgen.Config) (*results.Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Results != nil {
		return nil, ErrResultsFile
	}
	sum := loadgen.NewSummary(cfg)
	start := time.Now()
	if _, err := c.waitFor(ctx, c.cfg.Agents); err != nil {
		if ctx.Err() != nil {
			loadgen.Finish(sum, start, true)
			return sum, nil
		}
		return nil, err
	}
	if cfg.WarmUp > 0 {
		warm := cfg
		warm.Requests, warm.Rate, warm.Concurrency, warm.Duration = cfg.WarmUp, loadgen.Rate{}, 0, 0
		_, shares, incomplete := c.round(ctx, warm, 0)
		if len(incomplete) > 0 {
			c.log.Warn("warm-up incomplete", "why", incomplete)
		}
		if err := warmedUp(shares); err != nil && ctx.Err() == nil {
			return nil, err
		}
	}
	for round := 1; round <= max(cfg.Rounds, 1) && ctx.Err() == nil; round++ {
		if round > 1 && !sleep(ctx, cfg.Pause) {
			break
		}
		recs, shares, incomplete := c.round(ctx, cfg, round)
		sum.Results = append(sum.Results, recs...)
		sum.RoundStats = append(sum.RoundStats, results.RoundSummary{Round: round, Stats: results.Summarize(recs)})
		sum.Agents = append(sum.Agents, shares...)
		sum.Incomplete = append(sum.Incomplete, incomplete...)
	}
	loadgen.Finish(sum, start, ctx.Err() != nil)
	return sum, nil
}

// warmedUp fails, as loadgen.Run does, when every request of a warm-up
// that came back failed: the rounds would measure a server that does not
// answer.
func warmedUp(shares []results.AgentShare) error {
	sent, failed := 0, 0
	for _, a := range shares {
		sent, failed = sent+a.Requests, failed+a.Errors
	}
	if sent > 0 && failed == sent {
		return fmt.Errorf("%w: warm-up: all %d requests failed", loadgen.ErrWarmUpFailed, sent)
	}
	return nil
}

// sleep waits d, and reports false if ctx was done first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// round runs one round (0: the warm-up) on the agents in the run: their
// clocks measured, the work split and given out, their parts awaited
// and merged.
func (c *Coordinator) round(ctx context.Context, cfg loadgen.Config, round int) ([]results.Record, []results.AgentShare, []string) {
	c.mu.Lock()
	c.dropLost()
	ms := c.live()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	if len(ms) == 0 {
		var err error
		if ms, err = c.waitFor(ctx, 1); err != nil {
			return nil, nil, []string{fmt.Sprintf("%s: no agent: %v", roundName(round), err)}
		}
	}
	ready, failed := c.measureAll(ctx, ms)
	var incomplete []string
	for _, err := range failed {
		incomplete = append(incomplete, fmt.Sprintf("%s: %v", roundName(round), err))
	}
	if ctx.Err() != nil {
		return nil, nil, incomplete
	}
	parts, at := c.giveOut(cfg, round, seq, ready)
	c.await(ctx, cfg, parts, at)
	recs, shares, missing := c.merge(parts, at)
	return recs, shares, append(incomplete, missing...)
}

func roundName(round int) string {
	if round == 0 {
		return "warm-up"
	}
	return "round " + strconv.Itoa(round)
}

// measureAll reads every agent's clock, at once, and returns those that
// told it and the errors of those that did not.
func (c *Coordinator) measureAll(ctx context.Context, ms []*member) ([]*member, []error) {
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, mb := range ms {
		wg.Go(func() { errs[i] = c.measure(ctx, mb) })
	}
	wg.Wait()
	var ready []*member
	var failed []error
	for i, mb := range ms {
		if errs[i] != nil {
			failed = append(failed, errs[i])
			continue
		}
		ready = append(ready, mb)
	}
	return ready, failed
}

// giveOut splits cfg's work between ms, picks the release instant and
// sends each agent its share, and returns the parts to await and the
// instant. An agent that refuses its share, or does not answer, has its
// part marked missing.
func (c *Coordinator) giveOut(cfg loadgen.Config, round, seq int, ms []*member) ([]*part, time.Time) {
	shares := split(cfg, len(ms))
	lead := cmp.Or(c.cfg.Lead, DefaultLead)
	if len(shares) > 0 {
		lead += loadgen.SetupTime(shares[0].Requests) // the first share is the largest
	}
	at := time.Now().Add(lead)
	phase := ratePhase(cfg, len(shares))
	var parts []*part
	c.mu.Lock()
	for i, sh := range shares {
		mb := ms[i]
		p := &part{mb: mb, sh: sh, round: round, seq: seq, phase: time.Duration(i) * phase,
			offset: mb.offset, bound: mb.bound, batches: map[int]bool{}}
		c.parts[partKey{mb.id, seq}] = p
		parts = append(parts, p)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range parts {
		start := at.Add(p.phase)
		if !c.cfg.NoClockSync {
			start = start.Add(p.offset)
		}
		b, _ := json.Marshal(work{Seq: seq, WarmUp: round == 0, Share: p.sh, Start: start.UnixNano()})
		wg.Go(func() {
			msg, err := c.nc.Request(agentSubject(p.mb.agentID, "work"), b, requestTimeout)
			var a ack
			if err == nil {
				err = json.Unmarshal(msg.Data, &a)
			}
			if err == nil && a.Error != "" {
				err = errors.New(a.Error)
			}
			if err != nil {
				c.mu.Lock()
				p.final, p.missing = true, "not given its share: "+err.Error()
				c.mu.Unlock()
				// It may have taken the share all the same (its answer
				// lost): it is not to fire it.
				c.callOff([]*part{p})
			}
		})
	}
	wg.Wait()
	return parts, at
}

// split divides cfg's work between k agents, the first taking what does
// not divide: a burst's requests, a closed loop's clients, a rate. An
// agent whose share would be nothing is left out (a burst of 2 on 3
// agents goes to 2).
func split(cfg loadgen.Config, k int) []share {
	var out []share
	for i := range k {
		sh := shareOf(cfg)
		switch cfg.Mode() {
		case loadgen.ModeRate:
			sh.RatePerSec = cfg.Rate.PerSecond() / float64(k)
		case loadgen.ModeClosed:
			sh.Concurrency = cfg.Concurrency/k + boolInt(i < cfg.Concurrency%k)
		default:
			n := cmp.Or(cfg.Requests, loadgen.DefaultRequests)
			sh.Requests = n/k + boolInt(i < n%k)
		}
		if sh.Requests == 0 && sh.Concurrency == 0 && sh.RatePerSec == 0 {
			continue
		}
		out = append(out, sh)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ratePhase is how far apart k agents start a rate's share, so that
// their requests interleave: agent i sends at the instant plus i times
// the whole rate's interval, and together they send evenly at the rate.
// Zero for a burst or a closed loop, which all go at once.
func ratePhase(cfg loadgen.Config, k int) time.Duration {
	if cfg.Mode() != loadgen.ModeRate || k < 2 {
		return 0
	}
	return time.Duration(float64(time.Second) / cfg.Rate.PerSecond())
}

// records takes a batch of an agent's records: once (by its number), and
// not for a part already given up (its records would be merged unplaced).
func (c *Coordinator) records(m *nats.Msg) {
	var r records
	if err := json.Unmarshal(m.Data, &r); err != nil {
		reply(m, ack{Error: err.Error()})
		return
	}
	c.mu.Lock()
	p := c.parts[partKey{r.Agent, r.Seq}]
	switch {
	case p == nil:
		c.mu.Unlock()
		reply(m, ack{Error: fmt.Sprintf("no round %d for this agent", r.Seq)})
		return
	case p.batches[r.Batch] || p.missing != "":
		c.mu.Unlock()
		reply(m, ack{})
		return
	}
	p.batches[r.Batch] = true
	if r.Started != 0 {
		p.started = r.Started
	}
	for _, rec := range r.Records {
		rec.Round, rec.Source = p.round, p.mb.name
		p.recs = append(p.recs, rec)
	}
	if r.Final {
		p.final, p.count, p.ok, p.interrupted, p.err = true, r.Count, r.OK, r.Interrupted, r.Error
	}
	c.mu.Unlock()
	select {
	case c.arrived <- struct{}{}:
	default:
	}
	reply(m, ack{})
}
