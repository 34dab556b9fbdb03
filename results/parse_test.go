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
	if sp := run.Speedups(Cluster); !slices.Equal(sp, stored.Speedup.PerRound) || run.Primary().Speedup.Median != stored.Speedup.Median {
		t.Errorf("speedups %v median %v, want the stored %v and %v", sp, run.Primary().Speedup.Median, stored.Speedup.PerRound, stored.Speedup.Median)
	}
	for i, side := range []string{Standard, Cluster} {
		m, s := stored.Modes[i], run.Arm(side)
		if m.P99.P95 != 0 {
			t.Fatalf("%s: a v1 file has no p95, got %v", side, m.P99.P95)
		}
		m.P99.P95 = s.LatencyMs.P95 // v1 files predate it
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

// TestParseRunRefusesEditedFigures: figures stored in a file are not
// trusted but checked: a speedup, a last response or a median edited by
// hand, in a v1, v2 or v3 file, or a time no clock gives, make the file
// refused; without the stored figures, they are derived.
func TestParseRunRefusesEditedFigures(t *testing.T) {
	t.Parallel()
	v3, err := ParseRun(mustReadFile(t, "run-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(name string, f func(raw map[string]any)) []byte {
		var raw map[string]any
		if err := json.Unmarshal(mustReadFile(t, name), &raw); err != nil {
			t.Fatal(err)
		}
		f(raw)
		b, _ := json.Marshal(raw)
		return b
	}
	m := func(v any) map[string]any { return v.(map[string]any) }
	l := func(v any) []any { return v.([]any) }
	side := func(raw map[string]any, round, arm int) map[string]any {
		return m(l(m(l(raw["rounds"])[round])["arms"])[arm])
	}
	for _, tt := range []struct {
		name string
		file []byte
		want string
	}{
		{"v1 per-round speedup", edit("run-v1.json", func(raw map[string]any) { l(m(raw["speedup"])["per_round"])[2] = 2.0 }), "round 3 cluster: the file says speedup 2"},
		{"v2 round speedup", edit("run-v2.json", func(raw map[string]any) { m(l(raw["rounds"])[0])["speedup"] = 99.0 }), "round 1 cluster: the file says speedup 99"},
		{"v2 last response", edit("run-v2.json", func(raw map[string]any) { m(m(l(raw["rounds"])[1])["cluster"])["last_ms"] = 1.0 }), "round 2 cluster: the file says last response 1 ms"},
		{"v3 round speedup", edit("run-v3.json", func(raw map[string]any) { side(raw, 0, 2)["speedup"] = 1e308 }), "round 1 cluster/2w/free: the file says speedup 1e+308"},
		{"v3 zero speedup", edit("run-v3.json", func(raw map[string]any) { side(raw, 1, 1)["speedup"] = 0.0 }), "the file says speedup 0"},
		{"v3 median", edit("run-v3.json", func(raw map[string]any) { m(m(l(raw["arms"])[1])["speedup"])["median"] = -2.0 }), "cluster/2w/shared: the file says median speedup -2"},
		{"negative latency", edit("run-v3.json", func(raw map[string]any) { m(l(side(raw, 0, 0)["results"])[3])["latency_ms"] = -5.0 }), "has a time of -5 ms"},
	} {
		_, err := ParseRun(tt.file)
		if !errors.Is(err, ErrInconsistentRun) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// The same file without its stored figures: derived, and equal.
	bare := edit("run-v3.json", func(raw map[string]any) {
		for _, a := range l(raw["arms"]) {
			delete(m(a), "speedup")
		}
		for _, rd := range l(raw["rounds"]) {
			for _, s := range l(m(rd)["arms"]) {
				delete(m(s), "speedup")
				delete(m(s), "last_ms")
			}
		}
	})
	got, err := ParseRun(bare)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range got.Arms {
		if a.Speedup != v3.Arms[i].Speedup || a.LastMs != v3.Arms[i].LastMs {
			t.Errorf("%s: derived %+v, last %v; want %+v, %v", a.Name, a.Speedup, a.LastMs, v3.Arms[i].Speedup, v3.Arms[i].LastMs)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
		unknown        bool
	}{
		{"not json", "hello", "not JSON", false},
		{"load file", `{"schema": "flipbench/load/v1"}`, "not a run file: a load file (flipbench load)", false},
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
	std, cl := run.Standard(), run.Primary()
	if std.Workers != 1 || cl.Workers != 2 || cl.Speedup.Efficiency != round3(cl.Speedup.Median/2) {
		t.Errorf("workers %d and %d, efficiency %v of speedup %v; want 1, 2 and half the speedup",
			std.Workers, cl.Workers, cl.Speedup.Efficiency, cl.Speedup.Median)
	}
}
