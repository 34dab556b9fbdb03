package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/flipbench/flipbench/"

// natsClient is the NATS client: only the broker, the queue (and the CLI)
// may link it.
const natsClient = "github.com/nats-io/nats.go"

// deps lists what pkg links: every package it imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestDependencyArrows checks the package map of ARCHITECTURE.md: the
// arrows run one way, and reading or reporting results never links the
// flip server, its embedded photo or the image library.
func TestDependencyArrows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pkg string
		// ours lists the only packages of this module it may link.
		ours []string
		// never lists other packages it must not link.
		never []string
	}{
		{"results", nil, []string{"github.com/disintegration/imaging"}},
		{"loadgen", []string{"results"}, []string{"github.com/disintegration/imaging", natsClient}},
		{"report", []string{"results", "verdict", "history", "capacity"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib", natsClient, "modernc.org/sqlite", "github.com/jackc/pgx/v5/stdlib"}},
		{"verdict", []string{"results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib", natsClient, "github.com/olekukonko/tablewriter"}},
		{"fixtures", nil, nil},
		{"capacity", []string{"results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib", natsClient}},
		{"history", []string{"results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib", natsClient, "database/sql"}},
		{"history/sqlstore", []string{"history", "results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib", natsClient}},
		{"httpfront", nil, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib", natsClient}},
		{"server", []string{"fixtures", "httpfront"}, []string{"github.com/tsenart/vegeta/v12/lib", natsClient}},
		{"broker", nil, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib"}},
		{"agents", []string{"broker", "loadgen", "results"}, []string{"github.com/disintegration/imaging"}},
		{"queue", []string{"server", "fixtures", "httpfront", "broker"}, []string{"github.com/tsenart/vegeta/v12/lib"}},
		{"bench", []string{"server", "queue", "broker", "fixtures", "httpfront", "loadgen", "results", "capacity"}, nil},
		{"results/resultstest", []string{"results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib"}},
		{"verdict/simulate", []string{"verdict", "results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			t.Parallel()
			for _, d := range deps(t, tt.pkg) {
				if d == module+tt.pkg {
					continue
				}
				if ours, ok := strings.CutPrefix(d, module); ok && !slices.Contains(tt.ours, ours) {
					t.Errorf("%s links %s; it may link only %v of ours", tt.pkg, ours, tt.ours)
				}
				if slices.Contains(tt.never, d) {
					t.Errorf("%s links %s", tt.pkg, d)
				}
			}
		})
	}
}

// maxTrackedBytes bounds what a tracked file may weigh: every clone
// downloads it. Build output (a 37 MB queue.test once slipped in) is far
// above it; source, test data and docs far below.
const maxTrackedBytes = 2 << 20

// bigFilesAllowed are the tracked files that may exceed maxTrackedBytes:
// the article's photo, which the binary embeds.
var bigFilesAllowed = []string{"fixtures/photo.jpg"}

// TestNoTrackedBuildOutput fails on any tracked file over 2 MB but the
// fixture photo, so that build output (test binaries, the flipbench
// binary, profiles) never lands in the repository.
func TestNoTrackedBuildOutput(t *testing.T) {
	t.Parallel()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout (%v): nothing is tracked", err)
	}
	dir := strings.TrimSpace(string(root))
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 50 {
		t.Fatalf("git ls-files listed %d files: not this repository?", len(files))
	}
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			continue // deleted in the work tree, not yet committed
		}
		if fi.Size() > maxTrackedBytes && !slices.Contains(bigFilesAllowed, f) {
			t.Errorf("%s is tracked and weighs %.1f MB (over %d MB): build output? git rm --cached it and ignore it",
				f, float64(fi.Size())/(1<<20), maxTrackedBytes>>20)
		}
	}
}

// soleImporters are the third-party libraries that one package of ours
// owns: only the packages listed may import them (test files included),
// so that a table never links vegeta, a load never links NATS, and a
// database driver stays in the history store. Prefixes of import paths.
var soleImporters = []struct {
	prefix string
	owners []string
}{
	{"github.com/tsenart/vegeta", []string{"loadgen"}},
	{"github.com/olekukonko/tablewriter", []string{"report"}},
	{"gonum.org/v1/plot", []string{"report"}},
	{"github.com/nats-io/", []string{"broker", "queue", "agents", "cmd/flipbench"}}, // the CLI's queue tests drive a broker
	{"github.com/disintegration/imaging", []string{"server"}},
	{"github.com/prometheus/", []string{"httpfront", "queue"}},
	{"golang.org/x/perf", []string{"verdict"}},
	{"github.com/aclements/go-moremath", []string{"verdict"}},
	{"github.com/spf13/", []string{"cmd/flipbench"}},
	{"modernc.org/sqlite", []string{"history/sqlstore"}},
	{"github.com/jackc/pgx", []string{"history/sqlstore"}},
	{"database/sql", []string{"history/sqlstore"}},
}

// TestSoleImporters checks soleImporters against what every package of
// the module imports, its tests included.
func TestSoleImporters(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}} {{join .TestImports \" \"}} {{join .XTestImports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for _, imp := range fields[1:] {
			for _, rule := range soleImporters {
				if !strings.HasPrefix(imp, rule.prefix) {
					continue
				}
				seen[rule.prefix] = true
				if !slices.Contains(rule.owners, pkg) {
					t.Errorf("%s imports %s, which only %v may", pkg, imp, rule.owners)
				}
			}
		}
	}
	for _, must := range []string{"github.com/tsenart/vegeta", "github.com/olekukonko/tablewriter", "github.com/nats-io/", "github.com/disintegration/imaging"} {
		if !seen[must] {
			t.Errorf("no package imports %s: is the check reading the module?", must)
		}
	}
}
