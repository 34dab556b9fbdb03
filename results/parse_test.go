package results

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustReadFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseRunV1 reads a run file that the release before run/v2 wrote
// (flipbench bench --quick --rounds 6) and checks that the conversion
// keeps every figure that release computed.
func TestParseRunV1(t *testing.T) {
	t.Parallel()
	b := mustReadFile(t, "run-v1.json")
	var stored struct {
		Modes []struct {
			Mode    string         `json:"mode"`
			Workers int            `json:"worker_processes"`
			LastMs  float64        `json:"last_ms"`
			P99     Latency        `json:"latency_ms"`
			PerPID  map[string]int `json:"workers"`
			Rounds  []struct {
				LastMs float64 `json:"last_ms"`
			} `json:"rounds"`
		} `json:"modes"`
		Speedup struct {
			Median   float64   `json:"median"`
			PerRound []float64 `json:"per_round"`
		} `json:"speedup"`
	}
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	run, err := ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	if run.Schema != RunSchema || len(run.Rounds) != 6 || run.Config.Rounds != 6 {
		t.Fatalf("schema %q with %d rounds, want %q with 6", run.Schema, len(run.Rounds), RunSchema)
	}
	if sp := run.Speedups(Cluster); !slices.Equal(sp, stored.Speedup.PerRound) || run.Cluster().Speedup.Median != stored.Speedup.Median {
		t.Errorf("speedups %v median %v, want the stored %v and %v", sp, run.Cluster().Speedup.Median, stored.Speedup.PerRound, stored.Speedup.Median)
	}
	for i, side := range []string{Standard, Cluster} {
		m, s := stored.Modes[i], run.Arm(side)
		if s.Workers != m.Workers || s.LastMs != m.LastMs || s.LatencyMs != m.P99 || !equalMaps(s.RequestsPerWorker, m.PerPID) {
			t.Errorf("%s: workers %d last %v latency %+v per worker %v; want the stored %d, %v, %+v, %v",
				side, s.Workers, s.LastMs, s.LatencyMs, s.RequestsPerWorker, m.Workers, m.LastMs, m.P99, m.PerPID)
		}
		for j, rd := range run.Rounds {
			if got, want := rd.Side(side).LastMs, m.Rounds[j].LastMs; got != want {
				t.Errorf("%s round %d: last %v, want the stored %v", side, j+1, got, want)
			}
		}
	}
}

func equalMaps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestParseRunRoundTrip writes a parsed run again and reads it back:
// a v2 file converted, and a v3 file of several cluster arms.
func TestParseRunRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"run-v2.json", "run-v3.json"} {
		t.Run(name, func(t *testing.T) { testRoundTrip(t, name) })
	}
}

func testRoundTrip(t *testing.T, name string) {
	run, err := ParseRun(mustReadFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"requests_per_worker"`) || strings.Contains(string(b), `"worker_processes"`) {
		t.Errorf("a run file must name requests per worker so:\n%.600s", b)
	}
	again, err := ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(again)
	if string(b) != string(b2) {
		t.Error("a run file read and written again changed")
	}
}

// TestParseRunRecomputes shows that figures stored in a file are not
// trusted: a speedup and a last response edited by hand are recomputed
// from the requests.
func TestParseRunRecomputes(t *testing.T) {
	t.Parallel()
	var raw map[string]any
	if err := json.Unmarshal(mustReadFile(t, "run-v2.json"), &raw); err != nil {
		t.Fatal(err)
	}
	want, err := ParseRun(mustReadFile(t, "run-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	round := raw["rounds"].([]any)[0].(map[string]any)
	round["speedup"] = 99.0
	round["cluster"].(map[string]any)["last_ms"] = 1.0
	raw["speedup"].(map[string]any)["median"] = 99.0
	b, _ := json.Marshal(raw)
	got, err := ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	checkRecomputed(t, got, want)

	// The same in a v3 file, whose figures sit in the arms.
	v3, _ := json.Marshal(want)
	raw = nil
	if err := json.Unmarshal(v3, &raw); err != nil {
		t.Fatal(err)
	}
	side := raw["rounds"].([]any)[0].(map[string]any)["arms"].([]any)[1].(map[string]any)
	side["speedup"], side["last_ms"] = 99.0, 1.0
	raw["arms"].([]any)[1].(map[string]any)["speedup"].(map[string]any)["median"] = 99.0
	raw["arms"].([]any)[1].(map[string]any)["jain"] = 0.01
	b, _ = json.Marshal(raw)
	if got, err = ParseRun(b); err != nil {
		t.Fatal(err)
	}
	checkRecomputed(t, got, want)
}

func checkRecomputed(t *testing.T, got, want *Run) {
	t.Helper()
	g, w := got.Rounds[0].Side(Cluster), want.Rounds[0].Side(Cluster)
	if g.Speedup != w.Speedup || g.LastMs != w.LastMs || got.Cluster().Speedup != want.Cluster().Speedup || got.Cluster().Jain != want.Cluster().Jain {
		t.Errorf("edited figures survived: round 1 speedup %v last %v, run %+v; want %v, %v, %+v",
			g.Speedup, g.LastMs, got.Cluster().Speedup, w.Speedup, w.LastMs, want.Cluster().Speedup)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
		unknown        bool
	}{
		{"not json", "hello", "not JSON", false},
		{"load file", `{"schema": "flipbench/load/v1"}`, `schema "flipbench/load/v1"`, true},
		{"no schema", `{}`, `schema ""`, true},
		{"v1 without modes", `{"schema": "flipbench/run/v1", "modes": []}`, "without its standard and cluster modes", true},
		{"v3 without arms", `{"schema": "flipbench/run/v3", "arms": []}`, "want a standard arm first", false},
		{"v3 cluster first", `{"schema": "flipbench/run/v3", "arms": [{"name": "cluster", "mode": "cluster", "workers": 2, "baseline": "standard"}, {"name": "standard", "mode": "standard", "workers": 1}]}`, "want a standard arm first", false},
		{"v3 twice one name", `{"schema": "flipbench/run/v3", "arms": [{"name": "standard", "mode": "standard", "workers": 1}, {"name": "standard", "mode": "cluster", "workers": 2, "baseline": "standard"}]}`, "repeated", false},
		{"v3 no baseline", `{"schema": "flipbench/run/v3", "arms": [{"name": "standard", "mode": "standard", "workers": 1}, {"name": "cluster", "mode": "cluster", "workers": 2}]}`, "baseline", false},
		{"v3 no workers", `{"schema": "flipbench/run/v3", "arms": [{"name": "standard", "mode": "standard", "workers": 1}, {"name": "cluster", "mode": "cluster", "baseline": "standard"}]}`, "0 workers", false},
		{"v3 round without an arm", `{"schema": "flipbench/run/v3", "arms": [{"name": "standard", "mode": "standard", "workers": 1}, {"name": "cluster", "mode": "cluster", "workers": 2, "baseline": "standard"}], "rounds": [{"round": 1, "arms": [{"arm": "standard", "results": []}]}]}`, "round 1 has 1 arms", false},
		{"v3 arms out of order", `{"schema": "flipbench/run/v3", "arms": [{"name": "standard", "mode": "standard", "workers": 1}, {"name": "cluster", "mode": "cluster", "workers": 2, "baseline": "standard"}], "rounds": [{"round": 1, "arms": [{"arm": "cluster"}, {"arm": "standard"}]}]}`, "want \"standard\"", false},
	} {
		_, err := ParseRun([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrUnknownSchema) != tt.unknown {
			t.Errorf("%s: %v, want an error with %q (unknown schema: %v)", tt.name, err, tt.want, tt.unknown)
		}
	}
	if v, err := Parse([]byte(`{"schema": "flipbench/load/v1", "n": 3}`)); err != nil || v.(*Summary).N != 3 {
		t.Errorf("Parse of a load file: %v, %v", v, err)
	}
}

// TestParseRunV1WithoutWorkerProcesses reads a v1 file as the first v1
// releases wrote them, before worker_processes: standard is one worker,
// the cluster the configured size, and the efficiency is per worker.
func TestParseRunV1WithoutWorkerProcesses(t *testing.T) {
	t.Parallel()
	var raw map[string]any
	if err := json.Unmarshal(mustReadFile(t, "run-v1.json"), &raw); err != nil {
		t.Fatal(err)
	}
	for _, m := range raw["modes"].([]any) {
		delete(m.(map[string]any), "worker_processes")
	}
	b, _ := json.Marshal(raw)
	run, err := ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	std, cl := run.Standard(), run.Cluster()
	if std.Workers != 1 || cl.Workers != 2 || cl.Speedup.Efficiency != round3(cl.Speedup.Median/2) {
		t.Errorf("workers %d and %d, efficiency %v of speedup %v; want 1, 2 and half the speedup",
			std.Workers, cl.Workers, cl.Speedup.Efficiency, cl.Speedup.Median)
	}
}
