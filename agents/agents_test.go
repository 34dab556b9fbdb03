package agents

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// stampServer answers every request after delay and notes when each
// arrived (its handler's start).
type stampServer struct {
	*httptest.Server
	mu       sync.Mutex
	arrivals []time.Time
}

func newStampServer(t testing.TB, delay time.Duration) *stampServer {
	t.Helper()
	s := &stampServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.arrivals = append(s.arrivals, time.Now())
		s.mu.Unlock()
		time.Sleep(delay)
	}))
	t.Cleanup(s.Close)
	return s
}

// spread is the first-to-last arrival, and how many arrived.
func (s *stampServer) spread() (time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.arrivals) == 0 {
		return 0, 0
	}
	return slices.MaxFunc(s.arrivals, time.Time.Compare).Sub(slices.MinFunc(s.arrivals, time.Time.Compare)), len(s.arrivals)
}

// newTestCoordinator starts a coordinator on its own NATS server.
func newTestCoordinator(t testing.TB, cfg Config) *Coordinator {
	t.Helper()
	cfg.Embedded = broker.EmbeddedConfig{Addr: "127.0.0.1:0", Token: "test-token"}
	cfg.JoinTimeout = 20 * time.Second
	c, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// startAgent runs an agent until the test ends, or stop is called (as a
// SIGTERM would).
func startAgent(t testing.TB, c *Coordinator, name string, skew time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := &Agent{URL: c.URL(), Auth: broker.Auth{Token: "test-token"}, Name: name, ClockSkew: skew}
	go func() { done <- a.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	})
	t.Cleanup(stop)
	return stop
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  loadgen.Config
		k    int
		want []float64 // requests, clients or rate of each share
	}{
		{"burst", loadgen.Config{Requests: 10}, 3, []float64{4, 3, 3}},
		{"burst smaller than the agents", loadgen.Config{Requests: 2}, 3, []float64{1, 1}},
		{"default burst", loadgen.Config{}, 4, []float64{3, 3, 2, 2}},
		{"rate", loadgen.Config{Rate: loadgen.Rate{Freq: 600, Per: time.Second}, Duration: time.Second}, 3, []float64{200, 200, 200}},
		{"closed", loadgen.Config{Concurrency: 5, Duration: time.Second}, 2, []float64{3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []float64
			for _, sh := range split(tt.cfg, tt.k) {
				got = append(got, float64(sh.Requests+sh.Concurrency)+sh.RatePerSec)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOneInstantAcrossSkewedAgents: three agents, one whose clock reads
// 200 ms ahead, send a burst of 60 that reaches the server within a
// fraction of that skew once the offsets correct it, and spread over the
// whole skew without. The bound is loose (a shared 2-CPU machine); the
// docs give the figures measured in processes of their own.
func TestOneInstantAcrossSkewedAgents(t *testing.T) {
	const skew = 200 * time.Millisecond
	for _, sync := range []bool{true, false} {
		t.Run(map[bool]string{true: "corrected", false: "uncorrected"}[sync], func(t *testing.T) {
			srv := newStampServer(t, 20*time.Millisecond)
			c := newTestCoordinator(t, Config{Agents: 3, NoClockSync: !sync})
			startAgent(t, c, "a", 0)
			startAgent(t, c, "b", 0)
			startAgent(t, c, "skewed", skew)
			sum, err := c.Run(context.Background(), loadgen.Config{URL: srv.URL, Method: "GET", Requests: 60})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Requests != 60 || sum.OK != 60 || len(sum.Incomplete) != 0 || len(sum.Agents) != 3 {
				t.Fatalf("requests %d ok %d incomplete %v agents %d; want 60, 60, none, 3", sum.Requests, sum.OK, sum.Incomplete, len(sum.Agents))
			}
			for _, a := range sum.Agents {
				want := 0.0
				if a.Agent == "skewed" {
					want = skew.Seconds() * 1000
				}
				if d := a.OffsetMs - want; d > 5 || d < -5 || a.Requests != 20 {
					t.Errorf("agent %s: offset %.3f ms (want %.0f within 5), %d requests (want 20)", a.Agent, a.OffsetMs, want, a.Requests)
				}
			}
			got, n := srv.spread()
			if n != 60 {
				t.Fatalf("the server saw %d requests, want 60", n)
			}
			spread, _ := results.ReleaseSpread(sum.Agents, 1)
			t.Logf("arrival spread %s, release spread %.3f ms, send spread %.3f ms", got, spread, sum.SendSpreadMs)
			if sync && got > skew/2 {
				t.Errorf("corrected: the arrivals spread over %s, want well under the %s skew", got, skew)
			}
			if !sync && got < skew*9/10 {
				t.Errorf("uncorrected: the arrivals spread over %s, want about the %s skew", got, skew)
			}
		})
	}
}

// TestRateSplitKeepsTheRate: 600/s for 2 s over three agents, each at
// 200/s started a third of an interval apart: together they send at the
// rate asked, every request accounted for.
func TestRateSplitKeepsTheRate(t *testing.T) {
	srv := newStampServer(t, 0)
	c := newTestCoordinator(t, Config{Agents: 3})
	for _, name := range []string{"a", "b", "c"} {
		startAgent(t, c, name, 0)
	}
	sum, err := c.Run(context.Background(), loadgen.Config{URL: srv.URL, Method: "GET",
		Rate: loadgen.Rate{Freq: 600, Per: time.Second}, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 1200 || sum.OK != 1200 || len(sum.Incomplete) != 0 {
		t.Fatalf("requests %d ok %d incomplete %v; want 1200, 1200, none", sum.Requests, sum.OK, sum.Incomplete)
	}
	// The achieved rate: the requests after the first over the time
	// from the first send to the last.
	rate := float64(sum.Requests-1) / (sum.SendSpreadMs / 1000)
	t.Logf("achieved %.1f/s", rate)
	if rate < 570 || rate > 630 {
		t.Errorf("achieved %.1f/s, want 600 within 5%% (the docs measure 1%% on a quiet machine)", rate)
	}
	for i, r := range sum.Results {
		if r.Seq != uint64(i) || r.Round != 1 || r.Source == "" {
			t.Fatalf("record %d: seq %d round %d source %q", i, r.Seq, r.Round, r.Source)
		}
	}
}

// fakeAgent speaks the protocol by hand, to play an agent that goes
// silent (lost) or never sends its records (slow).
type fakeAgent struct {
	nc    *nats.Conn
	id    string
	reply joinReply
	stop  chan struct{}
	wg    sync.WaitGroup
	// working is set once the agent has answered a share of work (and
	// flushed the answer): a test that silences it mid-round waits for
	// it, or the agent would be lost before it was given its share.
	working atomic.Bool
}

// newFakeAgent joins c, answers its clock readings and accepts its work
// (sending no records); it beats until silence is called.
func newFakeAgent(t *testing.T, c *Coordinator, name string) *fakeAgent {
	t.Helper()
	nc, err := nats.Connect(c.URL(), nats.Token("test-token"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAgent{nc: nc, id: "FAKE" + strings.ToUpper(name), stop: make(chan struct{})}
	nc.Subscribe(agentSubject(f.id, "clock"), func(m *nats.Msg) {
		now := time.Now().UnixNano()
		b, _ := json.Marshal(clockReply{Received: now, Sent: now})
		m.Respond(b)
	})
	nc.Subscribe(agentSubject(f.id, "work"), func(m *nats.Msg) {
		m.Respond([]byte(`{}`))
		nc.Flush()
		f.working.Store(true)
	})
	req, _ := json.Marshal(joinRequest{ID: f.id, Name: name})
	msg, err := nc.Request(joinSubject, req, requestTimeout)
	if err != nil || json.Unmarshal(msg.Data, &f.reply) != nil || f.reply.Agent == "" {
		t.Fatalf("fake agent %s could not join: %v", name, err)
	}
	f.wg.Go(func() {
		b, _ := json.Marshal(beat{Agent: f.reply.Agent})
		tick := time.NewTicker(BeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-tick.C:
				nc.Request(f.reply.Prefix+"beat", b, requestTimeout)
			}
		}
	})
	t.Cleanup(f.silence)
	return f
}

// silence stops the agent's heartbeats and closes its connection, as a
// machine that died would.
func (f *fakeAgent) silence() {
	select {
	case <-f.stop:
		return
	default:
	}
	close(f.stop)
	f.wg.Wait()
	f.nc.Close()
}

// TestLostAgentMarksTheRoundIncomplete: an agent that goes silent in a
// round is counted lost within LostAfter: the round ends with the other
// agent's records, marked incomplete naming the lost one, without
// waiting for the load's timeout; an agent that asked to join while the
// run was full takes the lost one's place in the next round.
func TestLostAgentMarksTheRoundIncomplete(t *testing.T) {
	srv := newStampServer(t, 0)
	c := newTestCoordinator(t, Config{Agents: 2})
	startAgent(t, c, "steady", 0)
	lost := newFakeAgent(t, c, "doomed")
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	startAgent(t, c, "late", 0) // full: it waits
	var once sync.Once
	start := time.Now()
	sum, err := c.Run(context.Background(), loadgen.Config{URL: srv.URL, Method: "GET", Rounds: 2, Pause: 2 * time.Second,
		Rate: loadgen.Rate{Freq: 20, Per: time.Second}, Duration: time.Second, Timeout: time.Minute,
		Progress: func(loadgen.Progress) {
			if lost.working.Load() {
				once.Do(func() { go lost.silence() })
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if len(sum.Incomplete) != 1 || !strings.Contains(sum.Incomplete[0], "round 1: agent doomed lost") {
		t.Fatalf("incomplete %q, want round 1's doomed agent lost", sum.Incomplete)
	}
	if took > 30*time.Second {
		t.Errorf("the run took %s: it waited past the loss for the load's timeout", took)
	}
	var round2 []string
	for _, a := range sum.Agents {
		if a.Round == 2 {
			round2 = append(round2, a.Agent)
		}
	}
	if !slices.Equal(round2, []string{"late", "steady"}) || sum.RoundStats[1].Requests != 20 {
		t.Errorf("round 2: agents %v, %d requests; want late and steady, 20", round2, sum.RoundStats[1].Requests)
	}
}

// TestSlowAgentIsCutOffAtItsTime: an agent that beats but never sends
// its records holds the round up until the end of its load (the rate's
// duration and a request's timeout) and Grace, no longer.
func TestSlowAgentIsCutOffAtItsTime(t *testing.T) {
	srv := newStampServer(t, 0)
	c := newTestCoordinator(t, Config{Agents: 2, Grace: time.Second})
	startAgent(t, c, "prompt", 0)
	newFakeAgent(t, c, "slow")
	start := time.Now()
	sum, err := c.Run(context.Background(), loadgen.Config{URL: srv.URL, Method: "GET", Requests: 4, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if len(sum.Incomplete) != 1 || !strings.Contains(sum.Incomplete[0], "agent slow silent past its time") {
		t.Fatalf("incomplete %q, want the slow agent silent past its time", sum.Incomplete)
	}
	if sum.Requests != 2 {
		t.Errorf("%d requests, want the prompt agent's 2", sum.Requests)
	}
	if took < 2*time.Second || took > 15*time.Second {
		t.Errorf("the round took %s, want about the timeout and the grace (2 s)", took)
	}
}

// TestCoordinatorIsNeverOpen: without a token the coordinator's own
// server does not start, and an agent with a wrong token is not let in.
func TestCoordinatorIsNeverOpen(t *testing.T) {
	if _, err := Start(Config{Agents: 1, Embedded: broker.EmbeddedConfig{Addr: "127.0.0.1:0"}}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("no token: got %v, want a refusal", err)
	}
	c := newTestCoordinator(t, Config{Agents: 1})
	nc, err := nats.Connect(c.URL(), nats.Token("wrong"))
	if err == nil {
		nc.Close()
		t.Fatal("a client with a wrong token connected")
	}
	if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("wrong token: %v, want an authorization error", err)
	}
}

// TestJoinAskedTwiceIsOneAgent: a join asked again by the same agent
// process (its answer lost) gets the same place, not a second one.
func TestJoinAskedTwiceIsOneAgent(t *testing.T) {
	c := newTestCoordinator(t, Config{Agents: 2})
	nc, err := nats.Connect(c.URL(), nats.Token("test-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req, _ := json.Marshal(joinRequest{ID: "SAMEPROCESS", Name: "twice"})
	var first, second joinReply
	for _, r := range []*joinReply{&first, &second} {
		msg, err := nc.Request(joinSubject, req, requestTimeout)
		if err != nil || json.Unmarshal(msg.Data, r) != nil {
			t.Fatalf("join: %v", err)
		}
	}
	if first.Agent == "" || first != second {
		t.Errorf("first join %+v, second %+v; want the same place", first, second)
	}
	c.mu.Lock()
	n := len(c.members)
	c.mu.Unlock()
	if n != 1 {
		t.Errorf("%d members, want 1", n)
	}
}

// TestRoundsBackToBack: rounds with no pause between them are each given
// to every agent: an agent takes the next share as soon as it has sent
// the last of the one before.
func TestRoundsBackToBack(t *testing.T) {
	srv := newStampServer(t, 0)
	c := newTestCoordinator(t, Config{Agents: 2})
	startAgent(t, c, "a", 0)
	startAgent(t, c, "b", 0)
	for range 2 { // a second load on the same agents, as a bench makes
		sum, err := c.Run(context.Background(), loadgen.Config{URL: srv.URL, Method: "GET", Requests: 10, Rounds: 4, WarmUp: 2})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Requests != 40 || len(sum.Incomplete) != 0 || len(sum.Agents) != 8 {
			t.Fatalf("requests %d, incomplete %q, %d agent parts; want 40, none, 8", sum.Requests, sum.Incomplete, len(sum.Agents))
		}
	}
}

// hasRecords says whether the agent named has sent records in a round:
// it has been given its share and started it. (Stopped before, on a
// loaded machine, it is "not given its share", another fault.)
func hasRecords(c *Coordinator, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.parts {
		if p.mb.name == name && len(p.recs) > 0 {
			return true
		}
	}
	return false
}

// TestAgentStoppedMidRound: an agent stopped during its share (SIGTERM)
// sends what it has, cut short: the round is incomplete, naming it.
func TestAgentStoppedMidRound(t *testing.T) {
	srv := newStampServer(t, 0)
	c := newTestCoordinator(t, Config{Agents: 2})
	startAgent(t, c, "stays", 0)
	stop := startAgent(t, c, "leaves", 0)
	var once sync.Once
	sum, err := c.Run(context.Background(), loadgen.Config{URL: srv.URL, Method: "GET",
		Rate: loadgen.Rate{Freq: 40, Per: time.Second}, Duration: 3 * time.Second,
		Progress: func(loadgen.Progress) {
			if hasRecords(c, "leaves") {
				once.Do(func() { go stop() })
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Incomplete) != 1 || !strings.Contains(sum.Incomplete[0], "round 1: agent leaves cut its round short") {
		t.Fatalf("incomplete %q, want the agent that left named", sum.Incomplete)
	}
	if sum.Requests < 60 || sum.Requests >= 120 {
		t.Errorf("%d requests, want the one that stayed's 60 and part of the other's", sum.Requests)
	}
}
