package agents

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// cancelWait bounds the wait for the agents' last records once their
// round is called off (an interrupted load): they cut their requests
// short and answer at once.
const cancelWait = 5 * time.Second

// await waits until every part is in, or missing: its agent lost (no
// heartbeat for LostAfter) or silent past the round's deadline (the end
// of its load, plus Grace), when it is called off. A cancelled ctx calls
// every agent's round off and waits cancelWait at most for what they
// send. Records are passed to cfg.OnResult, and counted to cfg.Progress,
// as they come.
func (c *Coordinator) await(ctx context.Context, cfg loadgen.Config, round int, parts []*part, at time.Time) {
	grace := cmp.Or(c.cfg.Grace, DefaultGrace)
	deadline := at.Add(cfg.Duration + cmp.Or(cfg.Timeout, loadgen.DefaultTimeout) + grace)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	done := ctx.Done()
	for {
		c.mu.Lock()
		c.dropLost()
		pending := 0
		var late []*part
		for _, p := range parts {
			_, known := c.members[p.mb.id]
			switch {
			case p.final:
				continue
			case !known:
				p.final, p.missing = true, fmt.Sprintf("lost (no heartbeat for %s)", LostAfter)
			case time.Now().After(deadline):
				p.final, p.missing = true, fmt.Sprintf("silent past its time (the end of its load and %s)", grace)
				late = append(late, p)
			default:
				pending++
			}
		}
		news := c.news(parts)
		c.mu.Unlock()
		c.tell(cfg, round, parts, news)
		c.callOff(late)
		if pending == 0 {
			break
		}
		select {
		case <-done:
			c.callOff(parts)
			done, deadline = nil, time.Now().Add(cancelWait)
		case <-c.arrived:
		case <-tick.C:
		}
	}
	c.mu.Lock()
	for _, p := range parts {
		delete(c.parts, partKey{p.mb.id, round})
	}
	c.mu.Unlock()
}

// callOff tells the agents of parts to call their round off.
func (c *Coordinator) callOff(parts []*part) {
	for _, p := range parts {
		c.nc.Publish(agentSubject(p.mb.agentID, "cancel"), nil)
	}
}

// news is the records come since the last call, in the parts' order.
// c.mu is held.
func (c *Coordinator) news(parts []*part) []results.Record {
	var out []results.Record
	for _, p := range parts {
		out = append(out, p.recs[p.told:]...)
		p.told = len(p.recs)
	}
	return out
}

// tell passes news to cfg.OnResult and the counts so far to
// cfg.Progress (the warm-up's as such), outside c.mu: they may print.
func (c *Coordinator) tell(cfg loadgen.Config, round int, parts []*part, news []results.Record) {
	if len(news) == 0 {
		return
	}
	if cfg.OnResult != nil && round > 0 {
		for _, r := range news {
			cfg.OnResult(r)
		}
	}
	if cfg.Progress == nil {
		return
	}
	p := loadgen.Progress{Round: max(round, 1), Rounds: max(cfg.Rounds, 1), WarmUp: round == 0}
	c.mu.Lock()
	for _, pt := range parts {
		p.Total += pt.sh.Requests
		p.Done += pt.told
		for _, r := range pt.recs[:pt.told] {
			switch {
			case r.Canceled():
				p.Canceled++
			case !r.OK():
				p.Errors++
			}
		}
	}
	c.mu.Unlock()
	if cfg.Mode() != loadgen.ModeBurst {
		p.Total = 0
	}
	cfg.Progress(p)
}

// merge makes one round of the parts: every record's times moved to
// count from the round's instant at by the coordinator's clock (its
// agent's release, less the agent's clock offset, after at), all of them
// in the order they were sent and numbered so; each agent's figures; and
// what is missing. A warm-up (round 0) gives only what is missing.
func (c *Coordinator) merge(round int, parts []*part, at time.Time) ([]results.Record, []results.AgentShare, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var recs []results.Record
	var shares []results.AgentShare
	var incomplete []string
	for _, p := range parts {
		missing := p.missing
		switch {
		case missing != "":
		case p.err != "":
			missing = "failed: " + p.err
		case p.count != len(p.recs):
			missing = fmt.Sprintf("sent %d records, %d arrived", p.count, len(p.recs))
		}
		if missing != "" {
			name := "warm-up"
			if round > 0 {
				name = fmt.Sprintf("round %d", round)
			}
			incomplete = append(incomplete, fmt.Sprintf("%s: agent %s %s", name, p.mb.name, missing))
		}
		if round == 0 {
			continue
		}
		st := results.Summarize(p.recs)
		sh := results.AgentShare{Round: round, Agent: p.mb.name, Requests: st.Requests, Errors: st.Errors,
			OffsetMs: results.Ms(p.offset), OffsetBoundMs: results.Ms(p.bound), SendSpreadMs: st.SendSpreadMs, Missing: missing}
		if p.started != 0 {
			rel := results.Ms(time.Unix(0, p.started).Add(-p.offset).Sub(at))
			sh.ReleaseMs = rel
			for i := range p.recs {
				p.recs[i].SentMs += rel
				p.recs[i].EndMs += rel
			}
		}
		shares = append(shares, sh)
		recs = append(recs, p.recs...)
	}
	slices.SortFunc(shares, func(a, b results.AgentShare) int { return cmp.Compare(a.Agent, b.Agent) })
	slices.SortStableFunc(recs, func(a, b results.Record) int { return cmp.Compare(a.SentMs, b.SentMs) })
	for i := range recs {
		recs[i].Seq = uint64(i)
	}
	return recs, shares, incomplete
}
