package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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
	onRequest  func(side string)
	failStart  string // a side whose Start fails

	mu      sync.Mutex
	started []string
	stopped []string
}

func (f *fakeServers) Validate() error { return nil }
func (f *fakeServers) Processes(side string) int {
	if side == results.Standard {
		return 1
	}
	return 2
}
func (f *fakeServers) Sequential() bool                      { return f.sequential }
func (f *fakeServers) Describe(cfg *results.RunConfig) error { cfg.Workers = 2; return nil }

func (f *fakeServers) Start(ctx context.Context, side string) (Server, error) {
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
		pid := 100 + n%f.Processes(side) // the workers answer in turn
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
			if run.Schema != results.RunSchema || run.Env.Version != "test" || run.Config.N != 4 || run.Config.Rounds != 3 || run.Config.Workers != 2 {
				t.Errorf("run header: schema %q env %+v config %+v", run.Schema, run.Env, run.Config)
			}
			if len(run.Rounds) != 3 || run.Interrupted {
				t.Fatalf("%d rounds (interrupted %v), want 3", len(run.Rounds), run.Interrupted)
			}
			for i, rd := range run.Rounds {
				for _, side := range results.Sides {
					rs := rd.Side(side)
					if rd.Round != i+1 || rs.Requests != 4 || rs.OK != 4 || rs.Results[0].Round != i+1 {
						t.Errorf("round %d %s: round %d, %d requests, %d ok; want %d, 4, 4", i+1, side, rd.Round, rs.Requests, rs.OK, i+1)
					}
				}
				if rd.Speedup <= 0 {
					t.Errorf("round %d: speedup %v, want one", i+1, rd.Speedup)
				}
			}
			if run.Standard.Workers != 1 || run.Cluster.Workers != 2 || run.Cluster.Requests != 12 || len(run.Cluster.RequestsPerWorker) != 2 {
				t.Errorf("sides: standard %d workers, cluster %d workers, %d requests, per worker %v",
					run.Standard.Workers, run.Cluster.Workers, run.Cluster.Requests, run.Cluster.RequestsPerWorker)
			}
			want := []string{"standard", "cluster", "cluster", "standard", "standard", "cluster"}
			if seq {
				want = []string{"standard", "standard", "standard", "cluster", "cluster", "cluster"}
			}
			if !slices.Equal(run.Order, want) {
				t.Errorf("order %v, want %v", run.Order, want)
			}
			if !slices.Equal(f.started, []string{"standard", "cluster"}) || len(f.stopped) != 2 {
				t.Errorf("started %v, stopped %v; want each side started and stopped once", f.started, f.stopped)
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
	if !run.Interrupted || len(run.Rounds) != 1 || run.Speedup.Rounds != 1 || !slices.Equal(run.Order, []string{"standard", "cluster"}) {
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
// measured all its rounds when the cluster will not start; the bench
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
