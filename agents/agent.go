package agents

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// Agent is a load agent: it waits on a NATS server for a coordinator,
// takes the shares of load the coordinator gives it, releases each at
// the instant given, and sends its records back. When its coordinator
// is done or gone it waits for the next one.
type Agent struct {
	// URL is the NATS server the coordinator uses, or several of one
	// cluster separated by commas.
	URL string
	// Auth is how the agent proves itself to the server: the
	// coordinator's token, and its certificate's CA for tls://.
	Auth broker.Auth
	// Name names the agent in the results and the logs. Empty means the
	// host's name and the process's PID. The coordinator makes a name
	// two agents share unique.
	Name string
	// Version is the build's, told to the coordinator. Empty is allowed.
	Version string
	// Log receives the agent's events. Nil discards them.
	Log *slog.Logger
	// ClockSkew makes the agent read its clock this far off the
	// machine's, to test what the coordinator's clock offsets correct:
	// machines on one host share a clock. Zero in use.
	ClockSkew time.Duration

	id string // the process's, for joinRequest.ID
}

// ErrRefused means a coordinator refused the agent for good (not for
// being full, which only makes it wait).
var ErrRefused = errors.New("refused by the coordinator")

// Run connects, and joins one coordinator after another until ctx is
// done, when it returns nil after calling off the round it was running
// (its records so far are sent, marked cut short). It returns an error
// only for a URL it cannot use, or a coordinator that refuses it
// ([ErrRefused]); a server that refuses its token it keeps trying, and
// logs why.
func (a *Agent) Run(ctx context.Context) error {
	log := cmp.Or(a.Log, slog.New(slog.DiscardHandler))
	name := a.name()
	// No buffering while disconnected: a join or a heartbeat held back
	// and sent on reconnection would come late, and more than once.
	nc, err := broker.Connect(a.URL, "flipbench agent "+name, a.Auth, log, nats.ReconnectBufSize(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	a.id = rand.Text()
	// The agent's subjects are its own before it joins, so that the
	// coordinator's first clock reading finds it listening (and is
	// answered without a session, which may not be there yet).
	var current atomic.Pointer[session]
	clock, err := nc.Subscribe(agentSubject(a.id, "clock"), a.clock)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer clock.Unsubscribe()
	for verb, h := range map[string]func(*session, *nats.Msg){
		"work": (*session).work,
		"cancel": func(s *session, m *nats.Msg) {
			var c cancelRound
			json.Unmarshal(m.Data, &c)
			s.callOffRound(c.Seq)
		},
		"bye": func(s *session, _ *nats.Msg) { s.stop() },
	} {
		sub, err := nc.Subscribe(agentSubject(a.id, verb), func(m *nats.Msg) {
			if s := current.Load(); s != nil {
				h(s, m)
			}
		})
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		defer sub.Unsubscribe()
	}
	log.Info("agent online", "agent", name, "pid", os.Getpid(), "nats", broker.Redact(a.URL))
	for ctx.Err() == nil {
		j, err := a.join(ctx, nc, name, log)
		if err != nil || ctx.Err() != nil {
			return err
		}
		log.Info("joined a coordinator", "agent", j.Name)
		sctx, stop := context.WithCancel(ctx)
		s := &session{a: a, nc: nc, j: j, log: log.With("agent", j.Name), ctx: sctx, stop: stop}
		current.Store(s)
		s.serve()
		current.Store(nil)
	}
	return nil
}

func (a *Agent) name() string {
	if a.Name != "" {
		return a.Name
	}
	host, _ := os.Hostname()
	return cmp.Or(host, "agent") + "-" + strconv.Itoa(os.Getpid())
}

// now is the agent's clock: the machine's, skewed in tests.
func (a *Agent) now() time.Time { return time.Now().Add(a.ClockSkew) }

// join asks to join every joinEvery until a coordinator takes the agent,
// saying once that it waits and again when a full coordinator keeps it
// waiting.
func (a *Agent) join(ctx context.Context, nc *nats.Conn, name string, log *slog.Logger) (joinReply, error) {
	req, _ := json.Marshal(joinRequest{ID: a.id, Name: name, Version: a.Version})
	waiting, full := false, false
	for {
		var j joinReply
		msg, err := nc.Request(joinSubject, req, requestTimeout)
		if err == nil {
			if err = json.Unmarshal(msg.Data, &j); err == nil {
				switch {
				case j.Refused != "":
					return j, fmt.Errorf("%w: %s", ErrRefused, j.Refused)
				case !j.Full:
					return j, nil
				case !full:
					log.Info("the coordinator has its agents: waiting for the next round or run")
				}
				full = true
			}
		}
		if !waiting && !full {
			log.Info("waiting for a coordinator", "nats", broker.Redact(a.URL))
			waiting = true
		}
		t := time.NewTimer(joinEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return j, nil
		case <-t.C:
		}
	}
}

// session is an agent's time with one coordinator.
type session struct {
	a    *Agent
	nc   *nats.Conn
	j    joinReply
	log  *slog.Logger
	ctx  context.Context // ends with the session
	stop context.CancelFunc

	mu     sync.Mutex
	cancel context.CancelFunc // the running round's; nil when none runs
	seq    int                // the running round's
	rounds sync.WaitGroup
}

// serve beats until the coordinator is gone, forgets the agent or says
// goodbye, or the agent stops, and then calls off the round it was
// running and waits for it.
func (s *session) serve() {
	defer func() {
		s.stop()
		s.callOff()
		s.rounds.Wait()
	}()
	s.beat(s.ctx)
}

// clock answers a clock request with the agent's clock, read when it
// came and when the answer leaves; with or without a coordinator (its
// first reading may come before the answer to the join).
func (a *Agent) clock(m *nats.Msg) {
	rx := a.now().UnixNano()
	b, _ := json.Marshal(clockReply{Received: rx, Sent: a.now().UnixNano()})
	m.Respond(b)
}

// beat sends a heartbeat every BeatEvery until ctx is done, the
// coordinator says it does not know the agent, or it has not answered
// for LostAfter.
func (s *session) beat(ctx context.Context) {
	req, _ := json.Marshal(beat{Agent: s.j.Agent})
	t := time.NewTicker(BeatEvery)
	defer t.Stop()
	heard := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		msg, err := s.nc.Request(s.j.Prefix+"beat", req, requestTimeout)
		var r beatReply
		switch {
		case err == nil && json.Unmarshal(msg.Data, &r) == nil:
			if !r.Known {
				s.log.Info("the coordinator is done with this agent")
				return
			}
			heard = time.Now()
		case time.Since(heard) > LostAfter:
			s.log.Warn("the coordinator is gone", "silent", time.Since(heard).Round(time.Millisecond).String())
			return
		}
	}
}

// callOff cancels the running round, if one runs.
func (s *session) callOff() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

// work takes a share of a round, answers at once, and runs it.
func (s *session) work(m *nats.Msg) {
	var w work
	if err := json.Unmarshal(m.Data, &w); err != nil {
		respond(m, fmt.Errorf("work: %w", err))
		return
	}
	cfg := w.Share.config()
	if err := cfg.Validate(); err != nil {
		respond(m, err)
		return
	}
	s.mu.Lock()
	switch {
	case s.ctx.Err() != nil:
		s.mu.Unlock()
		respond(m, errors.New("the agent is leaving"))
		return
	case s.cancel != nil:
		s.mu.Unlock()
		respond(m, errors.New("busy with another round"))
		return
	}
	rctx, cancel := context.WithCancel(s.ctx)
	s.cancel, s.seq = cancel, w.Seq
	s.rounds.Add(1) // under s.mu, before serve's Wait can start
	s.mu.Unlock()
	respond(m, nil)
	s.log.Info("round taken", "round", w.Seq, "warm_up", w.WarmUp, "url", cfg.URL,
		"release_in", time.Until(time.Unix(0, w.Start).Add(-s.a.ClockSkew)).Round(time.Millisecond).String())
	go func() {
		defer s.rounds.Done()
		defer cancel()
		s.run(rctx, w, cfg)
	}()
}

// callOffRound cancels the running round if it is round seq.
func (s *session) callOffRound(seq int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil && s.seq == seq {
		s.cancel()
	}
}

// done marks the running round over, so that the next can be taken: before
// its last message is sent, since the coordinator gives out the next
// round as soon as it has it.
func (s *session) done() {
	s.mu.Lock()
	s.cancel = nil
	s.mu.Unlock()
}

func respond(m *nats.Msg, err error) {
	var a ack
	if err != nil {
		a.Error = err.Error()
	}
	b, _ := json.Marshal(a)
	m.Respond(b)
}

// run runs one share, released at its instant (the agent's clock turned
// back into the machine's), streaming its records back as they come, and
// sends the last message: how many records, how many of a warm-up's
// (which are not sent) were ok, and whether the round was cut short.
func (s *session) run(ctx context.Context, w work, cfg loadgen.Config) {
	cfg.Start = time.Unix(0, w.Start).Add(-s.a.ClockSkew)
	st := &streamer{s: s, seq: w.Seq}
	cfg.OnStart = func(_ int, at time.Time) { st.started(at.Add(s.a.ClockSkew).UnixNano()) }
	stopFlush := func() {}
	if w.Seq > 0 && !w.WarmUp {
		cfg.OnResult = st.add
		stopFlush = st.flushEvery(100 * time.Millisecond)
	}
	sum, err := loadgen.Run(ctx, cfg)
	stopFlush()
	st.flush()
	last := st.batch(nil)
	last.Final = true
	switch {
	case err != nil:
		last.Error = err.Error()
	case w.WarmUp:
		last.OK = sum.OK
	default:
		last.Count, last.Interrupted = len(sum.Results), sum.Interrupted
	}
	s.done()
	s.send(last)
	s.log.Info("round done", "round", w.Seq, "requests", last.Count, "interrupted", last.Interrupted, "err", last.Error)
}

// send sends a batch of records, trying three times: a batch lost is a
// round the coordinator marks incomplete, and one sent twice is counted
// once (by its number).
func (s *session) send(r records) {
	b, _ := json.Marshal(r)
	for try := 1; ; try++ {
		_, err := s.nc.Request(s.j.Prefix+"records", b, requestTimeout)
		if err == nil || try == 3 {
			if err != nil {
				s.log.Warn("records not delivered", "round", r.Seq, "records", len(r.Records), "final", r.Final, "err", err)
			}
			return
		}
	}
}

// streamer gathers a round's records as they come and sends them in
// numbered batches, each with when the round began.
type streamer struct {
	s   *session
	seq int

	mu      sync.Mutex
	pending []results.Record
	start   int64      // when the round began, by the agent's clock; 0 before
	batches int        // numbered so far
	sending sync.Mutex // one batch at a time, in order
}

func (st *streamer) started(ns int64) {
	st.mu.Lock()
	st.start = ns
	st.mu.Unlock()
}

// batch numbers a batch of recs.
func (st *streamer) batch(recs []results.Record) records {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.batches++
	return records{Agent: st.s.j.Agent, Seq: st.seq, Batch: st.batches, Records: recs, Started: st.start}
}

// batchMax bounds a batch: about 300 bytes a record, well inside NATS's
// 1 MB message.
const batchMax = 500

func (st *streamer) add(r results.Record) {
	st.mu.Lock()
	st.pending = append(st.pending, r)
	st.mu.Unlock()
}

// flush sends what is pending, in batches.
func (st *streamer) flush() {
	st.sending.Lock()
	defer st.sending.Unlock()
	st.mu.Lock()
	recs := st.pending
	st.pending = nil
	st.mu.Unlock()
	for len(recs) > 0 {
		n := min(len(recs), batchMax)
		st.s.send(st.batch(recs[:n]))
		recs = recs[n:]
	}
}

// flushEvery flushes every d until the returned stop is called.
func (st *streamer) flushEvery(d time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				st.flush()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
