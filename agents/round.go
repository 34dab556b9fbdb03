package agents

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// partKey names one agent's part of one round.
type partKey struct {
	agent string
	round int
}

// part is one agent's part of one round, as it comes back.
type part struct {
	mb            *member
	sh            share
	offset, bound time.Duration // the agent's clock, measured before the round
	recs          []results.Record
	told          int    // records passed to OnResult and counted by Progress
	final         bool   // the last message came
	count         int    // the records the agent says it sent
	started       int64  // when its share began, by its clock; 0 if it did not
	err           string // what the agent says went wrong
	missing       string // why the part is missing or short
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
		if _, _, incomplete := c.round(ctx, warm, 0); len(incomplete) > 0 {
			c.log.Warn("warm-up incomplete", "why", incomplete)
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
	c.mu.Unlock()
	if len(ms) == 0 {
		var err error
		if ms, err = c.waitFor(ctx, 1); err != nil {
			return nil, nil, []string{fmt.Sprintf("round %d: no agent: %v", round, err)}
		}
	}
	var incomplete []string
	ready := ms[:0:0]
	for _, mb := range ms {
		if err := c.measure(mb); err != nil {
			incomplete = append(incomplete, fmt.Sprintf("round %d: %v", round, err))
			continue
		}
		ready = append(ready, mb)
	}
	parts, at := c.giveOut(cfg, round, ready)
	c.await(ctx, cfg, round, parts, at)
	recs, shares, missing := c.merge(round, parts, at)
	return recs, shares, append(incomplete, missing...)
}

// giveOut splits cfg's work between ms, picks the release instant and
// sends each agent its share, and returns the parts to await and the
// instant. An agent that refuses its share, or does not answer, has its
// part marked missing.
func (c *Coordinator) giveOut(cfg loadgen.Config, round int, ms []*member) ([]*part, time.Time) {
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
		p := &part{mb: mb, sh: sh, offset: mb.offset, bound: mb.bound}
		c.parts[partKey{mb.id, round}] = p
		parts = append(parts, p)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for i, p := range parts {
		start := at.Add(time.Duration(i) * phase)
		if !c.cfg.NoClockSync {
			start = start.Add(p.offset)
		}
		b, _ := json.Marshal(work{Round: round, Share: p.sh, Start: start.UnixNano()})
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

// records takes a batch of an agent's records.
func (c *Coordinator) records(m *nats.Msg) {
	var r records
	if err := json.Unmarshal(m.Data, &r); err != nil {
		reply(m, ack{Error: err.Error()})
		return
	}
	c.mu.Lock()
	p := c.parts[partKey{r.Agent, r.Round}]
	if p == nil {
		c.mu.Unlock()
		reply(m, ack{Error: fmt.Sprintf("no round %d for this agent", r.Round)})
		return
	}
	for _, rec := range r.Records {
		rec.Round, rec.Source = r.Round, p.mb.name
		p.recs = append(p.recs, rec)
	}
	if r.Final && !p.final {
		p.final, p.count, p.started, p.err = true, r.Count, r.Started, r.Error
	}
	c.mu.Unlock()
	select {
	case c.arrived <- struct{}{}:
	default:
	}
	reply(m, ack{})
}
