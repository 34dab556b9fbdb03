package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// runFileCopies writes n distinct run files (the testdata run, each
// started at another time) into dir.
func runFileCopies(t *testing.T, dir string, n int) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "results", "testdata", "run-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range n {
		var run map[string]any
		if err := json.Unmarshal(b, &run); err != nil {
			t.Fatal(err)
		}
		run["started"] = "2026-12-01T10:00:0" + string(rune('0'+i)) + "Z"
		out, _ := json.Marshal(run)
		p := filepath.Join(dir, "run-"+string(rune('a'+i))+".json")
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestHistoryAddListShow(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	runs := runFileCopies(t, dir, 3)

	// The commit and branch default from git here (a checkout); the CI's
	// variables win over git.
	head := strings.TrimSpace(gitOut(t, "rev-parse", "HEAD"))
	stdout, stderr, code := runCLI(t, []string{"GITHUB_SHA=", "GITHUB_HEAD_REF=", "GITHUB_REF_NAME=feature-x", "GITHUB_RUN_ID=77"}, "history", "add", runs[0], "--db", db)
	if code != 0 || !strings.Contains(stdout, "added "+runs[0]+": commit "+head[:12]+", branch feature-x") {
		t.Fatalf("add: exit %d, %q %q; want added with git's HEAD %s and $GITHUB_REF_NAME", code, stdout, stderr, head[:12])
	}
	stdout, _, code = runCLI(t, nil, "history", "add", runs[0], "--db", db, "--commit", "c0", "--branch", "main")
	if code != 0 || !strings.Contains(stdout, "already recorded") {
		t.Errorf("the same run again: exit %d, %q; want already recorded", code, stdout)
	}
	if _, _, code := runCLI(t, nil, "history", "add", runs[1], "--db", db, "--commit", "c1", "--branch", "main", "--time", "2099-12-02T10:00:00Z", "--tag", "runner=ci"); code != 0 {
		t.Fatalf("add with flags: exit %d", code)
	}

	stdout, _, code = runCLI(t, nil, "history", "list", "--db", db, "--format", "json")
	var listed []struct {
		Commit, Branch string
		Tags           map[string]string
	}
	if err := json.Unmarshal([]byte(stdout), &listed); code != 0 || err != nil || len(listed) != 2 {
		t.Fatalf("list: exit %d, %v, %d entries:\n%s", code, err, len(listed), stdout)
	}
	if listed[0].Tags["run"] != "77" || listed[1].Commit != "c1" || listed[1].Tags["runner"] != "ci" {
		t.Errorf("list: %+v; want the run tag from GITHUB_RUN_ID, then c1 tagged runner=ci", listed)
	}
	stdout, _, code = runCLI(t, nil, "history", "show", "speedup", "--db", db, "--branch", "main", "--format", "csv")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != 0 || len(lines) != 2 || lines[0] != "time,commit,branch,setup,speedup" || !strings.HasPrefix(lines[1], "2099-12-02T10:00:00Z,c1,main,") {
		t.Errorf("show --format csv: exit %d:\n%s", code, stdout)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"history", "list", "--db", filepath.Join(dir, "none.db")}, "no history there"},
		{[]string{"history", "add", runs[2], "--db", filepath.Join(dir, "no", "h.db")}, "does not exist"},
		{[]string{"history", "add", runs[2], "--db", "mysql://x/y"}, "postgres:// URL"},
		{[]string{"history", "add", runs[2], "--db", db, "--time", "yesterday"}, "RFC 3339"},
		{[]string{"history", "add", runs[2], "--db", db, "--tag", "novalue"}, "KEY=VALUE"},
		{[]string{"history", "add", filepath.Join(dir, "nope.json"), "--db", db}, "no such file"},
		{[]string{"history", "show", "cluster.nope", "--db", db}, "unknown metric"},
		{[]string{"history", "lst"}, "not a history command"},
		{[]string{"history", "show", "speedup", "--db", db, "--format", "csv"}, "Otava reads a CSV as one"},
		{[]string{"history", "show", "speedup", "--db", db, "--setup", "cpus=64"}, "no series of that setup"},
	} {
		if _, stderr, code := runCLI(t, nil, tt.args...); code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args[1:], code, stderr, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("list of a missing history created it")
	}
}

// TestHistoryConcurrentAdds: two flipbench processes add to one new
// SQLite history at once, as two CI jobs would: both land.
func TestHistoryConcurrentAdds(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	runs := runFileCopies(t, dir, 6)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			args := append([]string{"history", "add", "--db", db, "--commit", "c", "--branch", "main"}, runs[3*i:3*i+3]...)
			if stdout, stderr, code := runCLI(t, nil, args...); code != 0 || strings.Count(stdout, "added ") != 3 {
				t.Errorf("process %d: exit %d, %q %q", i, code, stdout, stderr)
			}
		})
	}
	wg.Wait()
	stdout, _, _ := runCLI(t, nil, "history", "list", "--db", db, "--format", "csv")
	if n := strings.Count(stdout, "\n") - 1; n != 6 {
		t.Errorf("%d of 6 runs recorded:\n%s", n, stdout)
	}
}

func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("git", args...)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Skipf("no git checkout here: %v", err)
	}
	return out.String()
}

// scaledRunFile writes the testdata run with every request's times
// multiplied by factor (its stored summaries dropped: they are derived
// again when it is read), as a build doing that much more work would.
func scaledRunFile(t *testing.T, path string, factor float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "results", "testdata", "run-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var run map[string]any
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	for _, rd := range run["rounds"].([]any) {
		for _, a := range rd.(map[string]any)["arms"].([]any) {
			arm := a.(map[string]any)
			for k := range arm {
				if k != "arm" && k != "results" {
					delete(arm, k)
				}
			}
			for _, r := range arm["results"].([]any) {
				rec := r.(map[string]any)
				for _, k := range []string{"sent_ms", "latency_ms", "end_ms", "queue_ms", "job_ms"} {
					if v, ok := rec[k].(float64); ok {
						rec[k] = v * factor
					}
				}
			}
		}
	}
	run["started"] = fmt.Sprintf("scaled %v", factor)
	out, _ := json.Marshal(run)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryCheckFindsTheSlowBuild: 16 runs whose last 8 do 30% more
// work a job: check names the first slow run's commit and exits 1; the
// same history without the slow build exits 0.
func TestHistoryCheckFindsTheSlowBuild(t *testing.T) {
	dir := t.TempDir()
	noise := []float64{1.01, 0.98, 1.02, 0.99, 1.03, 0.97, 1.0, 1.02, 0.99, 1.01, 0.98, 1.02, 1.0, 0.99, 1.01, 0.98}
	for _, slow := range []bool{true, false} {
		db := filepath.Join(dir, fmt.Sprintf("slow-%v.db", slow))
		for i, f := range noise {
			if slow && i >= 8 {
				f *= 1.3
			}
			path := filepath.Join(dir, fmt.Sprintf("run-%v-%02d.json", slow, i))
			scaledRunFile(t, path, f)
			if _, stderr, code := runCLI(t, nil, "history", "add", path, "--db", db, "--branch", "main",
				"--commit", fmt.Sprintf("c%02d", i), "--time", fmt.Sprintf("2026-12-01T%02d:00:00Z", i)); code != 0 {
				t.Fatalf("add: exit %d: %s", code, stderr)
			}
		}
		stdout, stderr, code := runCLI(t, nil, "history", "check", "--db", db)
		if slow && (code != 1 || !strings.Contains(stdout, "FAIL: standard.service rose by") || !strings.Contains(stdout, "at c08 (main,") ||
			!strings.Contains(stderr, "regression in the history")) {
			t.Errorf("the last 8 runs 30%% slower: exit %d, want 1 naming c08:\n%s%s", code, stdout, stderr)
		}
		if !slow && (code != 0 || !strings.Contains(stdout, "PASS")) {
			t.Errorf("no slow build: exit %d, want 0:\n%s%s", code, stdout, stderr)
		}
	}
	stdout, _, code := runCLI(t, nil, "history", "check", "--db", filepath.Join(dir, "slow-true.db"), "--format", "junit")
	if code != 1 || !strings.Contains(stdout, `<failure message="standard.service rose by`) {
		t.Errorf("junit: exit %d:\n%s", code, stdout)
	}
	// The trend page: a figure and the check's table.
	page := filepath.Join(dir, "trend.html")
	if _, stderr, code := runCLI(t, nil, "history", "plot", page, "--db", filepath.Join(dir, "slow-true.db")); code != 0 {
		t.Fatalf("plot: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(page); !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "c08 +") {
		t.Errorf("the trend page has no figure or no change point named c08")
	}
	if _, stderr, code := runCLI(t, nil, "history", "plot", filepath.Join(dir, "trend.pdf"), "--db", filepath.Join(dir, "slow-true.db")); code != 2 {
		t.Errorf("plot to a .pdf: exit %d, want 2: %s", code, stderr)
	}
	for _, args := range [][]string{{"--gate", "queue.last"}, {"--min-change", "0"}, {"--alpha", "1"}, {"--alpha", "0.001"}, {"--branch", "nope"}} {
		if _, stderr, code := runCLI(t, nil, append([]string{"history", "check", "--db", filepath.Join(dir, "slow-true.db")}, args...)...); code != 2 {
			t.Errorf("check %v: exit %d, want 2: %s", args, code, stderr)
		}
	}
}
