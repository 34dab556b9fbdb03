package agents

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flipbench/flipbench/broker"
)

// Defaults for the zero values of [Config].
const (
	// DefaultJoinTimeout bounds the wait for the agents.
	DefaultJoinTimeout = 2 * time.Minute
	// DefaultGrace is how long past the end of its load an agent has to
	// send its last records.
	DefaultGrace = 10 * time.Second
	// DefaultLead is how long before the release instant the shares of
	// a round are given out, over the time a burst takes to set itself
	// up (loadgen.SetupTime): time for the shares to arrive.
	DefaultLead = 500 * time.Millisecond
	// DefaultMaxPayload is the largest message of the coordinator's own
	// NATS server: a round's share carries the body, base64 in JSON.
	DefaultMaxPayload = 64 << 20
)

// clockExchanges is how many clock readings the coordinator takes of an
// agent before each round; the one with the least round trip counts.
const clockExchanges = 8

// Config configures a [Coordinator].
type Config struct {
	// Agents is how many agents share each round's load; at least 1.
	Agents int
	// NATS is an existing NATS server that the agents reach too (a URL,
	// or several of one cluster separated by commas). Empty starts one
	// in this process, as Embedded says.
	NATS string
	// Auth is how the coordinator proves itself to the server at NATS.
	Auth broker.Auth
	// Embedded configures the server started in this process when NATS
	// is empty. Its Token is required: a coordinator's server is never
	// open (agents on it would fire at any URL they were sent). A zero
	// MaxPayload means [DefaultMaxPayload].
	Embedded broker.EmbeddedConfig
	// JoinTimeout bounds the wait for the agents before the first round
	// (and for one at least, should every agent be lost). Zero means
	// [DefaultJoinTimeout].
	JoinTimeout time.Duration
	// Grace is how long past the end of its load (the release instant,
	// plus the load's duration and one request's timeout) an agent may
	// take to send its last records before its part of the round counts
	// as missing: a slow agent holds the others up no longer. Zero means
	// [DefaultGrace].
	Grace time.Duration
	// Lead is how long before the release instant the shares are given
	// out, at the least. Zero means [DefaultLead].
	Lead time.Duration
	// NoClockSync releases every share when its agent's own clock reads
	// the coordinator's instant, uncorrected: to measure what the clock
	// offsets correct. The offsets are measured and reported all the
	// same.
	NoClockSync bool
	// Log receives the coordinator's events. Nil discards them.
	Log *slog.Logger
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Agents < 1:
		return fmt.Errorf("agents must be >= 1, got %d", c.Agents)
	case c.NATS == "" && c.Embedded.Token == "":
		return errors.New("the coordinator's NATS server needs a token: it is never open")
	case c.JoinTimeout < 0 || c.Grace < 0 || c.Lead < 0:
		return errors.New("join timeout, grace and lead must be >= 0")
	}
	if c.NATS != "" {
		return broker.CheckURL(c.NATS)
	}
	return nil
}

// Coordinator splits loads between agents and merges what they send
// back. Start it, tell the agents its URL, Wait for them, Run each load,
// then Close it.
type Coordinator struct {
	cfg    Config
	log    *slog.Logger
	emb    *broker.Embedded
	nc     *nats.Conn
	url    string
	prefix string // "flipbench.load.RUN."
	subs   []*nats.Subscription

	mu      sync.Mutex
	members map[string]*member // by subject token, in the run
	joined  int                // agents that ever joined: the next token
	changed chan struct{}      // closed, and replaced, when members change
	parts   map[partKey]*part  // the round in progress, by agent and round
	arrived chan struct{}      // a batch of records came (a wake-up, not a count)
	seq     int                // the rounds given out, warm-ups included
}

// member is an agent in the run.
type member struct {
	id, name string
	agentID  string        // joinRequest.ID
	heard    time.Time     // its last heartbeat
	offset   time.Duration // its clock minus ours
	bound    time.Duration // the offset's error bound
}

// Start starts the coordinator's NATS server (or connects to Config.NATS)
// and answers agents from then on.
func Start(cfg Config) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Coordinator{cfg: cfg, log: cmp.Or(cfg.Log, slog.New(slog.DiscardHandler)),
		members: map[string]*member{}, changed: make(chan struct{}), parts: map[partKey]*part{}, arrived: make(chan struct{}, 1)}
	c.prefix = subjectPrefix + rand.Text()[:10] + "."
	c.url = cfg.NATS
	auth, extra := cfg.Auth, []nats.Option(nil)
	if cfg.NATS == "" {
		ec := cfg.Embedded
		ec.NoJetStream = true
		ec.MaxPayload = cmp.Or(ec.MaxPayload, DefaultMaxPayload)
		e, err := broker.StartEmbedded(ec)
		if err != nil {
			return nil, err
		}
		c.emb, c.url = e, e.URL()
		// In process, but the client still checks a TLS server's
		// certificate: it is its own.
		auth, extra = broker.Auth{Token: ec.Token, CACert: ec.TLSCert}, []nats.Option{e.InProcess()}
	}
	nc, err := broker.Connect(c.url, "flipbench load coordinator", auth, c.log, extra...)
	if err == nil {
		c.nc = nc
		err = c.subscribe()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// URL is where agents join: the NATS server's URL.
func (c *Coordinator) URL() string { return c.url }

func (c *Coordinator) subscribe() error {
	for subject, h := range map[string]nats.MsgHandler{
		joinSubject:          c.join,
		c.prefix + "beat":    c.beat,
		c.prefix + "records": c.records,
	} {
		sub, err := c.nc.Subscribe(subject, h)
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", subject, err)
		}
		c.subs = append(c.subs, sub)
	}
	return c.nc.Flush()
}

// Close tells the agents it is done with them and stops. It may be
// called more than once.
func (c *Coordinator) Close() {
	if c.nc != nil {
		for _, sub := range c.subs {
			sub.Unsubscribe()
		}
		c.subs = nil
		c.mu.Lock()
		for _, mb := range c.members {
			c.nc.Publish(agentSubject(mb.agentID, "bye"), nil)
		}
		clear(c.members)
		c.mu.Unlock()
		c.nc.Flush()
		c.nc.Close()
		c.nc = nil
	}
	if c.emb != nil {
		c.emb.Shutdown()
		c.emb = nil
	}
}

// join answers an agent's request to join: in, with a name of its own,
// while the run has fewer than Agents; else full, and it asks again.
func (c *Coordinator) join(m *nats.Msg) {
	var req joinRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.ID == "" {
		reply(m, joinReply{Refused: fmt.Sprintf("bad join request (an agent of another build?): %v", err)})
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLost()
	for _, mb := range c.members {
		if mb.agentID == req.ID {
			reply(m, joinReply{Agent: mb.id, Prefix: c.prefix, Name: mb.name})
			return
		}
	}
	if len(c.members) >= c.cfg.Agents {
		reply(m, joinReply{Full: true})
		return
	}
	c.joined++
	mb := &member{id: "a" + strconv.Itoa(c.joined), agentID: req.ID, name: c.uniqueName(cmp.Or(req.Name, "agent")), heard: time.Now()}
	c.members[mb.id] = mb
	// Answered before a waiting round is woken: the agent learns its
	// run's subjects before the round's first message to it.
	reply(m, joinReply{Agent: mb.id, Prefix: c.prefix, Name: mb.name})
	c.notify()
	c.log.Info("agent joined", "agent", mb.name, "agents", len(c.members), "of", c.cfg.Agents)
}

// uniqueName is name, or name-2, name-3... if a member has it.
func (c *Coordinator) uniqueName(name string) string {
	taken := func(n string) bool {
		for _, mb := range c.members {
			if mb.name == n {
				return true
			}
		}
		return false
	}
	out := name
	for i := 2; taken(out); i++ {
		out = name + "-" + strconv.Itoa(i)
	}
	return out
}

// notify wakes whoever waits for the members to change. c.mu is held.
func (c *Coordinator) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// dropLost removes the members silent for LostAfter, and returns their
// names. c.mu is held.
func (c *Coordinator) dropLost() []string {
	var lost []string
	for id, mb := range c.members {
		if time.Since(mb.heard) > LostAfter {
			lost = append(lost, mb.name)
			delete(c.members, id)
			c.log.Warn("agent lost", "agent", mb.name, "silent", time.Since(mb.heard).Round(time.Millisecond).String())
		}
	}
	if len(lost) > 0 {
		c.notify()
	}
	slices.Sort(lost)
	return lost
}

// beat notes an agent's heartbeat, and tells it whether it is known.
func (c *Coordinator) beat(m *nats.Msg) {
	var b beat
	json.Unmarshal(m.Data, &b)
	c.mu.Lock()
	mb, ok := c.members[b.Agent]
	if ok {
		mb.heard = time.Now()
	}
	c.mu.Unlock()
	reply(m, beatReply{Known: ok})
}

func reply(m *nats.Msg, v any) {
	b, _ := json.Marshal(v)
	m.Respond(b)
}

// Wait waits until Agents agents have joined, for JoinTimeout at most.
func (c *Coordinator) Wait(ctx context.Context) error {
	_, err := c.waitFor(ctx, c.cfg.Agents)
	return err
}

// ErrTooFewAgents means fewer agents joined than the load needs, within
// the join timeout.
var ErrTooFewAgents = errors.New("too few agents")

// waitFor waits until at least n agents are in the run, for JoinTimeout
// at most, and returns them in the order they joined.
func (c *Coordinator) waitFor(ctx context.Context, n int) ([]*member, error) {
	deadline := time.NewTimer(cmp.Or(c.cfg.JoinTimeout, DefaultJoinTimeout))
	defer deadline.Stop()
	tick := time.NewTicker(BeatEvery)
	defer tick.Stop()
	for {
		c.mu.Lock()
		c.dropLost()
		ms, changed := c.live(), c.changed
		c.mu.Unlock()
		if len(ms) >= n {
			return ms, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("%w: %d of %d joined within %s", ErrTooFewAgents, len(ms), n, cmp.Or(c.cfg.JoinTimeout, DefaultJoinTimeout))
		case <-changed:
		case <-tick.C:
		}
	}
}

// live is the members, in the order they joined. c.mu is held.
func (c *Coordinator) live() []*member {
	ms := make([]*member, 0, len(c.members))
	for _, mb := range c.members {
		ms = append(ms, mb)
	}
	slices.SortFunc(ms, func(a, b *member) int {
		an, _ := strconv.Atoi(a.id[1:])
		bn, _ := strconv.Atoi(b.id[1:])
		return an - bn
	})
	return ms
}

// measure reads mb's clock clockExchanges times and keeps the offset of
// the reading with the least round trip (NTP's way), and half that
// round trip as its bound. The agent's time between its two readings
// does not count in the round trip. An agent that does not answer one
// reading within requestTimeout is given up at once: a dead agent must
// not cost every round 8 timeouts.
func (c *Coordinator) measure(ctx context.Context, mb *member) error {
	best := time.Duration(1<<63 - 1)
	var offset time.Duration
	for range clockExchanges {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		t0 := time.Now()
		msg, err := c.nc.RequestWithContext(rctx, agentSubject(mb.agentID, "clock"), nil)
		t3 := time.Now()
		cancel()
		var r clockReply
		if err == nil {
			err = json.Unmarshal(msg.Data, &r)
		}
		if err != nil {
			return fmt.Errorf("agent %s did not tell its clock: %w", mb.name, err)
		}
		if rtt := t3.Sub(t0) - time.Duration(r.Sent-r.Received); rtt < best {
			best = rtt
			offset = time.Duration((r.Received-t0.UnixNano())+(r.Sent-t3.UnixNano())) / 2
		}
	}
	c.mu.Lock()
	mb.offset, mb.bound = offset, max(best/2, 0)
	c.mu.Unlock()
	return nil
}
