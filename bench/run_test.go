package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/flipbench/flipbench/results"
)

// fakeServers serves each side from an httptest server in this process:
// the bench's orchestration without processes (the end-to-end tests run
// the real ones). onRequest, if set, is called with each request's side.
type fakeServers struct {
	sequential bool
	arms       []results.ArmSpec // nil: standard and a cluster of 2
	onRequest  func(side string)
	failStart  string // a side whose Start fails

	mu      sync.Mutex
	started []string
	stopped []string
}

func (f *fakeServers) Validate() error { return nil }
func (f *fakeServers) Arms() []results.ArmSpec {
	if f.arms != nil {
		return f.arms
	}
	return []results.ArmSpec{
		{Name: results.Standard, Mode: results.Standard, Workers: 1},
		{Name: results.Cluster, Mode: results.Cluster, Workers: 2, Baseline: results.Standard},
	}
}
func (f *fakeServers) Sequential() bool                      { return f.sequential }
func (f *fakeServers) Describe(cfg *results.RunConfig) error { cfg.Threads = 1; return nil }

func (f *fakeServers) Start(ctx context.Context, arm results.ArmSpec) (Server, error) {
	side := arm.Name
	if side == f.failStart {
		return (*fakeServer)(nil), fmt.Errorf("%s would not start", side) // a typed nil, as careless code returns
	}
	f.mu.Lock()
	f.started = append(f.started, side)
	f.mu.Unlock()
	var n int
	var nmu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.onRequest != nil {
			f.onRequest(side)
		}
		nmu.Lock()
		n++
		pid := 100 + n%arm.Workers // the workers answer in turn
		nmu.Unlock()
		w.Header().Set("X-Worker-Pid", strconv.Itoa(pid))
	}))
	return &fakeServer{ts: ts, stop: func() {
		f.mu.Lock()
		f.stopped = append(f.stopped, side)
		f.mu.Unlock()
	}}, nil
}

type fakeServer struct {
	ts   *httptest.Server
	stop func()
}

func (s *fakeServer) URL() string { return s.ts.URL + "/flip" }

// PID is this test's process, which serves: its cost is measured too.
func (s *fakeServer) PID() int { return os.Getpid() }
func (s *fakeServer) Stop(ctx context.Context) error {
	s.ts.Close()
	s.stop()
	return nil
}

func TestRunAssemblesNamedRounds(t *testing.T) {
	t.Parallel()
	for _, seq := range []bool{false, true} {
		t.Run(fmt.Sprintf("sequential=%v", seq), func(t *testing.T) {
			t.Parallel()
			f := &fakeServers{sequential: seq}
			run, err := Run(context.Background(), Config{Servers: f, Requests: 4, Rounds: 3, Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if run.Schema != results.RunSchema || run.Env.Version != "test" || run.Config.N != 4 || run.Config.Rounds != 3 || run.Config.Threads != 1 {
				t.Errorf("run header: schema %q env %+v config %+v", run.Schema, run.Env, run.Config)
			}
			if len(run.Rounds) != 3 || run.Interrupted {
				t.Fatalf("%d rounds (interrupted %v), want 3", len(run.Rounds), run.Interrupted)
			}
			for i, rd := range run.Rounds {
				for _, side := range []string{results.Standard, results.Cluster} {
					rs := rd.Side(side)
					if rd.Round != i+1 || rs.Requests != 4 || rs.OK != 4 || rs.Results[0].Round != i+1 {
						t.Errorf("round %d %s: round %d, %d requests, %d ok; want %d, 4, 4", i+1, side, rd.Round, rs.Requests, rs.OK, i+1)
					}
				}
				if sp := rd.Side(results.Cluster).Speedup; sp <= 0 {
					t.Errorf("round %d: speedup %v, want one", i+1, sp)
				}
			}
			std, cl := run.Standard(), run.Primary()
			if std.Workers != 1 || cl.Workers != 2 || cl.Requests != 12 || len(cl.RequestsPerWorker) != 2 || cl.Jain != 1 {
				t.Errorf("arms: standard %d workers, cluster %d workers, %d requests, per worker %v, Jain %v",
					std.Workers, cl.Workers, cl.Requests, cl.RequestsPerWorker, cl.Jain)
			}
			want := []string{"standard", "cluster", "cluster", "standard", "standard", "cluster"}
			if !slices.Equal(run.Order, want) {
				t.Errorf("order %v, want %v", run.Order, want)
			}
			// Side by side, each server runs through the bench; servers
			// that share an address start and stop for each measurement.
			starts := []string{"standard", "cluster"}
			if seq {
				starts = want
			}
			if !slices.Equal(f.started, starts) || len(f.stopped) != len(starts) {
				t.Errorf("started %v, stopped %v; want %v started and stopped", f.started, f.stopped, starts)
			}
		})
	}
}

// TestRunInterruptedKeepsCompleteRounds cancels the bench in its second
// round: round 1 is kept, the half-measured round 2 is not, every server
// is stopped, and the run says it was interrupted.
func TestRunInterruptedKeepsCompleteRounds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	served := 0
	f := &fakeServers{onRequest: func(side string) {
		mu.Lock()
		defer mu.Unlock()
		served++
		// warm-up 1 + 2, round 1: 2 + 2, then the first request of round 2
		if served == 1+2+2+2+1 {
			cancel()
		}
	}}
	run, err := Run(ctx, Config{Servers: f, Requests: 2, Rounds: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !run.Interrupted || len(run.Rounds) != 1 || run.Primary().Speedup.Rounds != 1 || !slices.Equal(run.Order, []string{"standard", "cluster"}) {
		t.Errorf("interrupted %v, %d rounds, order %v; want true, 1 round, [standard cluster]", run.Interrupted, len(run.Rounds), run.Order)
	}
	if len(f.stopped) != 2 {
		t.Errorf("stopped %v, want both servers", f.stopped)
	}
}

func TestRunValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{},
		{Servers: &fakeServers{}, Requests: -1},
		{Servers: &fakeServers{}, Rounds: -1},
		{Servers: &Commands{Standard: "true"}},
		{Servers: &Commands{Standard: "true", Cluster: "true"}},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v): no error", cfg)
		}
	}
}

// TestRunFailsWithoutARunWhenAServerWillNotStart: the standard side has
// measured its first round when the cluster will not start; the bench
// fails with no run (no run file to overwrite a good one with), and the
// server that did start is stopped.
func TestRunFailsWithoutARunWhenAServerWillNotStart(t *testing.T) {
	t.Parallel()
	f := &fakeServers{sequential: true, failStart: results.Cluster}
	run, err := Run(context.Background(), Config{Servers: f, Requests: 2, Rounds: 2})
	if err == nil || run != nil {
		t.Fatalf("run %v, err %v; want no run and an error", run, err)
	}
	if !slices.Equal(f.started, []string{"standard"}) || !slices.Equal(f.stopped, []string{"standard"}) {
		t.Errorf("started %v, stopped %v; want standard started and stopped", f.started, f.stopped)
	}
}

// TestRunMeasuresEveryArm: a bench of a standard and three clusters
// measures each in every round, in ABBA order, and gives each cluster a
// speedup over the standard arm.
func TestRunMeasuresEveryArm(t *testing.T) {
	t.Parallel()
	f := &fakeServers{arms: []results.ArmSpec{
		{Name: results.Standard, Mode: results.Standard, Workers: 1},
		{Name: "cluster/2w", Mode: results.Cluster, Workers: 2, Baseline: results.Standard},
		{Name: "cluster/3w", Mode: results.Cluster, Workers: 3, Baseline: results.Standard},
		{Name: "cluster/4w", Mode: results.Cluster, Workers: 4, Baseline: results.Standard},
	}}
	run, err := Run(context.Background(), Config{Servers: f, Requests: 12, Rounds: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"standard", "cluster/2w", "cluster/3w", "cluster/4w", "cluster/4w", "cluster/3w", "cluster/2w", "standard"}
	if !slices.Equal(run.Order, want) || len(run.Rounds) != 2 {
		t.Fatalf("order %v over %d rounds, want %v over 2", run.Order, len(run.Rounds), want)
	}
	for _, a := range run.Clusters() {
		if a.Requests != 24 || len(a.RequestsPerWorker) != a.Workers || a.Speedup.Rounds != 2 {
			t.Errorf("%s: %d requests from %d workers, speedup over %d rounds; want 24, %d, 2",
				a.Name, a.Requests, len(a.RequestsPerWorker), a.Speedup.Rounds, a.Workers)
		}
	}
	if len(f.started) != 4 || len(f.stopped) != 4 {
		t.Errorf("started %v, stopped %v; want every arm once", f.started, f.stopped)
	}
}

func TestArmsOfOwnAndCommands(t *testing.T) {
	t.Parallel()
	names := func(arms []results.ArmSpec) []string {
		var v []string
		for _, a := range arms {
			v = append(v, fmt.Sprintf("%s:%d:%s:%s", a.Name, a.Workers, a.Sched, a.Command))
		}
		return v
	}
	own := &Own{Workers: []int{1, 2}, Scheds: []string{"rr", "free"}}
	want := []string{"standard:1:rr:", "cluster/1w/rr:1:rr:", "cluster/1w/free:1:free:", "cluster/2w/rr:2:rr:", "cluster/2w/free:2:free:"}
	if got := names(own.Arms()); !slices.Equal(got, want) {
		t.Errorf("Own arms %v, want %v", got, want)
	}
	own = &Own{Workers: []int{3}}
	if got := names(own.Arms()); !slices.Equal(got, []string{"standard:1:free:", "cluster:3:free:"}) {
		t.Errorf("Own arms of one cluster %v", got)
	}
	own = &Own{Workers: []int{2, 4}, Modes: []string{"standard", "cluster", "queue"}, QueueReply: ReplyAsync}
	want = []string{"standard:1:free:", "cluster/2w:2:free:", "cluster/4w:4:free:", "queue/2w:2::", "queue/4w:4::"}
	if got := names(own.Arms()); !slices.Equal(got, want) {
		t.Errorf("Own arms of three modes %v, want %v", got, want)
	}
	for _, a := range own.Arms() {
		if a.Mode == results.Queue && (a.Reply != ReplyAsync || a.Baseline != results.Standard) {
			t.Errorf("queue arm %+v, want reply async against standard", a)
		}
	}
	own = &Own{Workers: []int{2}, Modes: []string{"standard", "queue"}}
	if got := names(own.Arms()); !slices.Equal(got, []string{"standard:1:free:", "queue:2::"}) || own.Arms()[1].Reply != ReplyWait {
		t.Errorf("Own arms of standard and queue %v (reply %q), want standard, queue (wait)", got, own.Arms()[1].Reply)
	}
	cmds := &Commands{Standard: "app", Cluster: "app -w {workers}", URL: "http://127.0.0.1:1/", Workers: []int{2, 4}}
	want = []string{"standard:1::app", "cluster/2w:2::app -w 2", "cluster/4w:4::app -w 4"}
	if got := names(cmds.Arms()); !slices.Equal(got, want) || cmds.Validate() != nil {
		t.Errorf("Commands arms %v (%v), want %v", got, cmds.Validate(), want)
	}
	for _, bad := range []Servers{
		&Commands{Standard: "app", Cluster: "app -w 2", URL: "http://127.0.0.1:1/", Workers: []int{2, 4}},
		&Commands{Standard: "app", Cluster: "app", URL: "http://127.0.0.1:1/", Workers: []int{2, 2}},
		&Own{Workers: []int{0}},
		&Own{Scheds: []string{"rr", "rr"}},
		&Own{Scheds: []string{"lifo"}},
		&Own{Modes: []string{"cluster", "queue"}},
		&Own{Modes: []string{"standard"}},
		&Own{Modes: []string{"standard", "queue", "queue"}},
		&Own{Modes: []string{"standard", "lambda"}},
		&Own{Modes: []string{"standard", "queue"}, QueueReply: "later"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", bad)
		}
	}
}
