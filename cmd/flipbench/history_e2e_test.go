package main_test

import (
	"bytes"
	"encoding/json"
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
