package agents

import (
	"cmp"
	"context"
	"encoding/json"
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
func (c *Coordinator) await(ctx context.Context, cfg loadgen.Config, parts []*part, at time.Time) {
	grace := cmp.Or(c.cfg.Grace, DefaultGrace)
	deadline := at.Add(cfg.Duration + cmp.Or(cfg.Timeout, loadgen.DefaultTimeout) + grace)
	late := fmt.Sprintf("silent past its time (the end of its load and %s)", grace)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	done := ctx.Done()
	for {
		c.mu.Lock()
		c.dropLost()
		pending := 0
		var cut []*part
		for _, p := range parts {
			_, known := c.members[p.mb.id]
			switch {
			case p.final:
				continue
			case !known:
				p.final, p.missing = true, fmt.Sprintf("lost (no heartbeat for %s)", LostAfter)
			case time.Now().After(deadline):
				p.final, p.missing = true, late
				cut = append(cut, p)
			default:
				pending++
			}
		}
		news := c.news(parts)
		c.mu.Unlock()
		c.tell(cfg, parts, news)
		c.callOff(cut)
		if pending == 0 {
			break
		}
		select {
		case <-done:
			c.callOff(parts)
			done, deadline = nil, time.Now().Add(cancelWait)
			late = fmt.Sprintf("no last records within %s of the interruption", cancelWait)
		case <-c.arrived:
		case <-tick.C:
		}
	}
	c.mu.Lock()
	for _, p := range parts {
		delete(c.parts, partKey{p.mb.id, p.seq})
	}
	c.mu.Unlock()
}

// callOff tells the agents of parts to call their round off.
func (c *Coordinator) callOff(parts []*part) {
	for _, p := range parts {
		c.mu.Lock()
		p.calledOff = true
		c.mu.Unlock()
		b, _ := json.Marshal(cancelRound{Seq: p.seq})
		c.nc.Publish(agentSubject(p.mb.agentID, "cancel"), b)
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
// cfg.Progress, outside c.mu: they may print. A warm-up has no news (its
// agents send no records).
func (c *Coordinator) tell(cfg loadgen.Config, parts []*part, news []results.Record) {
	if len(news) == 0 {
		return
	}
	round := parts[0].round
	if cfg.OnResult != nil {
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
// what is missing. A warm-up (round 0) gives no records, and shares
// that only count its requests and failures.
func (c *Coordinator) merge(parts []*part, at time.Time) ([]results.Record, []results.AgentShare, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var recs []results.Record
	var shares []results.AgentShare
	var incomplete []string
	for _, p := range parts {
		missing := partMissing(p)
		if missing != "" {
			incomplete = append(incomplete, fmt.Sprintf("%s: agent %s %s", roundName(p.round), p.mb.name, missing))
		}
		if p.round == 0 {
			n := p.sh.Requests
			shares = append(shares, results.AgentShare{Agent: p.mb.name, Requests: n, Errors: n - p.ok, Missing: missing})
			continue
		}
		st := results.Summarize(p.recs)
		sh := results.AgentShare{Round: p.round, Agent: p.mb.name, Requests: st.Requests, Errors: st.Errors,
			OffsetMs: results.Ms(p.offset), OffsetBoundMs: results.Ms(p.bound), SendSpreadMs: st.SendSpreadMs, Missing: missing}
		if p.started != 0 {
			rel := time.Unix(0, p.started).Add(-p.offset).Sub(at)
			sh.ReleaseMs = results.Ms(rel - p.phase)
			for i := range p.recs {
				p.recs[i].SentMs += results.Ms(rel)
				p.recs[i].EndMs += results.Ms(rel)
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

// partMissing says why p is missing or short, or "" when it is whole: a
// round the coordinator called off itself (an interruption) is cut short,
// not missing; one the agent cut short itself is.
func partMissing(p *part) string {
	switch {
	case p.missing != "":
		return p.missing
	case p.err != "":
		return "failed: " + p.err
	case p.count != len(p.recs):
		return fmt.Sprintf("sent %d records, %d arrived", p.count, len(p.recs))
	case p.interrupted && !p.calledOff:
		return "cut its round short (it was stopped, or lost its coordinator)"
	}
	return ""
}
