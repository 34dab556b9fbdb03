package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/history/historytest"
	"github.com/flipbench/flipbench/results"
)

// postgresEnv names the PostgreSQL server the tests use: .ci/run starts
// a throwaway one and sets it, so in CI (FLIPBENCH_CI set) the
// PostgreSQL tests never skip.
const postgresEnv = "FLIPBENCH_TEST_POSTGRES"

// stores are the databases every SQL test runs against: a new SQLite
// file, and a new schema of the test PostgreSQL server.
func stores(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "history.db") },
		"postgres": postgresDB,
	}
}

// postgresDB makes a schema of its own for the test on the test server
// and returns the URL that uses it; the test's end drops it.
func postgresDB(t *testing.T) string {
	t.Helper()
	url := os.Getenv(postgresEnv)
	if url == "" {
		if os.Getenv("FLIPBENCH_CI") != "" {
			t.Fatalf("%s is not set: .ci/run starts a PostgreSQL server for these tests", postgresEnv)
		}
		t.Skipf("no PostgreSQL server: set %s (a postgres:// URL) to run this test", postgresEnv)
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("t%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	t.Cleanup(func() {
		if admin, err := sql.Open("pgx", url); err == nil {
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			admin.Close()
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

func openStore(t *testing.T, db string) *Store {
	t.Helper()
	s, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQL(t *testing.T) {
	for kind, newDB := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			historytest.Conformance(t, openStore(t, newDB(t)))
		})
	}
}

// TestSQLKeepsRunsWhole: a real run comes back as it went in, and its
// figures are in the figures table for queries.
func TestSQLKeepsRunsWhole(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "results", "testdata", "run-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := results.ParseRun(b)
	if err != nil {
		t.Fatal(err)
	}
	want := history.Figures(run)
	if len(want) < 10 {
		t.Fatalf("%d figures of a run of two arms, want its speedup and each arm's", len(want))
	}
	for kind, newDB := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openStore(t, newDB(t))
			at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
			if _, err := s.Add(ctx, history.Entry{Commit: "abc", Branch: "main", Time: at, Tags: map[string]string{"runner": "ci"}, Run: run}); err != nil {
				t.Fatal(err)
			}
			es, err := s.List(ctx, history.Query{})
			if err != nil || len(es) != 1 {
				t.Fatalf("list: %v, %d entries", err, len(es))
			}
			got := es[0]
			if !got.Time.Equal(at) || got.Tags["runner"] != "ci" || got.Run.Arms[1].Speedup.Median != run.Arms[1].Speedup.Median {
				t.Errorf("read back: time %v, tags %v, speedup %v; want %v, runner=ci, %v", got.Time, got.Tags, got.Run.Arms[1].Speedup.Median, at, run.Arms[1].Speedup.Median)
			}
			var n int
			var speedup float64
			s.db.QueryRow(`SELECT COUNT(*) FROM figures WHERE run_id = $1`, got.ID).Scan(&n)
			s.db.QueryRow(`SELECT value FROM figures WHERE run_id = $1 AND metric = 'speedup'`, got.ID).Scan(&speedup)
			if n != len(want) || speedup != run.Arms[1].Speedup.Median {
				t.Errorf("figures table: %d rows, speedup %v; want %d and %v", n, speedup, len(want), run.Arms[1].Speedup.Median)
			}
		})
	}
}

// TestSQLConcurrentOpensAndAdds: two processes of their own (two
// connection pools) open a new history at once and add at once, as two
// CI jobs do: the schema is made once and no run is lost.
func TestSQLConcurrentOpensAndAdds(t *testing.T) {
	for kind, newDB := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for p := range 2 {
				wg.Go(func() {
					s, err := Open(context.Background(), db)
					if err != nil {
						errs <- err
						return
					}
					defer s.Close()
					var adds sync.WaitGroup
					for i := range 10 {
						adds.Go(func() {
							run := &results.Run{Schema: results.RunSchema, Started: fmt.Sprint(p, "-", i)}
							if _, err := s.Add(context.Background(), history.Entry{Branch: "main", Time: time.Now(), Run: run}); err != nil {
								errs <- err
							}
						})
					}
					adds.Wait()
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			es, err := openStore(t, db).List(context.Background(), history.Query{})
			if err != nil || len(es) != 20 {
				t.Errorf("%v, %d of 20 runs recorded", err, len(es))
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"", "mysql://x/y", filepath.Join(t.TempDir(), "missing", "h.db")} {
		if _, err := Open(context.Background(), db); !errors.Is(err, ErrBadDB) {
			t.Errorf("Open(%q): %v, want ErrBadDB", db, err)
		}
	}
	// A history written by a newer flipbench is not read as this one's.
	db := filepath.Join(t.TempDir(), "h.db")
	s := openStore(t, db)
	if _, err := s.db.Exec(`INSERT INTO schema_migrations (version, applied_ns) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), db); err == nil || !strings.Contains(err.Error(), "upgrade flipbench") {
		t.Errorf("a newer schema: %v, want a refusal", err)
	}
	for in, want := range map[string]string{
		"postgres://ci:s3cret@db:5432/h":                "postgres://ci:xxxxx@db:5432/h",
		"postgres://db/h?user=ci&password=s3cret":       "postgres://db/h?password=xxxxx&user=ci",
		"postgresql://ci@/h?host=/tmp/pg&sslmode=false": "postgresql://ci@/h?host=/tmp/pg&sslmode=false",
		"mysql://ci:s3cret@db/h":                        "mysql://ci:xxxxx@db/h",
		"history.db":                                    "history.db",
	} {
		if got := Redact(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "a?b.db")); !errors.Is(err, ErrBadDB) {
		t.Errorf("a path with ?: %v, want ErrBadDB", err)
	}
}
