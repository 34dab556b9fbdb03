package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/history/sqlstore"
	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/results"
)

func newHistoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Keep every bench run in a database and read its series",
		Long: `Keep every bench run in a history, a SQLite file (the default, ` + sqlstore.DefaultDB + `)
or a PostgreSQL database that several runners share (--db postgres://...), and
read each metric's series over the commits.

Each run is kept whole beside a table of its figures; a run added twice is kept
once, and two processes adding to one history at once both land.`,
		Example: `  $ flipbench bench --out run.json
  $ flipbench history add run.json
  $ flipbench history list
  $ flipbench history show cluster.last
  $ flipbench history check
  $ flipbench history plot trend.html
  $ flipbench history import runs/ --branch main`,
	}
	// A misspelt subcommand is bad usage (exit 2), not the group's help.
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("%q is not a history command: add, import, list, show, check or plot", args[0])
		}
		return cmd.Help()
	}
	cmd.AddCommand(newHistoryAddCmd(false), newHistoryAddCmd(true), newHistoryListCmd(), newHistoryShowCmd(), newHistoryCheckCmd(), newHistoryPlotCmd())
	return cmd
}

// addDBFlag adds --db to a history subcommand.
func addDBFlag(cmd *cobra.Command, db *string) {
	cmd.Flags().StringVar(db, "db", sqlstore.DefaultDB, "the history: a SQLite file's path or a postgres:// URL")
}

// openHistory opens --db; a --db that names no store is a usage error,
// as is a SQLite file that does not exist where only reading it
// (mustExist): listing must not leave an empty history behind.
func openHistory(ctx context.Context, db string, mustExist bool) (*sqlstore.Store, error) {
	if mustExist && !strings.Contains(db, "://") {
		if _, err := os.Stat(db); err != nil {
			return nil, usageErrorf("--db %s: no history there (flipbench history add RUN.json starts one)", db)
		}
	}
	s, err := sqlstore.Open(ctx, db)
	if errors.Is(err, sqlstore.ErrBadDB) {
		return nil, usageErrorf("--db: %w", err)
	}
	return s, err
}

// historyAddOptions are add's and import's.
type historyAddOptions struct {
	db, commit, branch, at string
	tags                   []string
}

func newHistoryAddCmd(dir bool) *cobra.Command {
	opts := &historyAddOptions{}
	cmd := &cobra.Command{
		Use:   "add RUN.json...",
		Short: "Record bench run files in the history",
		Long: `Record run files written by flipbench bench --out, with the commit they measured,
its branch, a time and free tags. Each defaults from the CI's environment
(GitHub's GITHUB_SHA, GITHUB_HEAD_REF or GITHUB_REF_NAME, GITHUB_RUN_ID as the tag
run), else from git in the working directory; the time is the commit's, so
that a series is in the order of its commits, else the run's start. A run
recorded already is said and left as it is.`,
		Example: `  $ flipbench history add run.json
  $ flipbench history add run.json --commit "$(git rev-parse HEAD)" --branch main --tag runner=ci-2cpu
  $ flipbench history add ab.json --db postgres://ci@db.example/bench`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("add needs at least one run file\nTry: flipbench bench --out run.json, then flipbench history add run.json")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistoryAdd(cmd.Context(), opts, args, cmd.OutOrStdout())
		},
	}
	if dir {
		cmd.Use, cmd.Short = "import DIR", "Record every run file under a directory"
		cmd.Long = `Record every bench run file (*.json) under DIR, as add does; files of other kinds
are skipped and said. Without --time each run's time is its start, and without
--commit the flipbench commit the run names.`
		cmd.Example = `  $ flipbench history import runs/ --branch main`
		cmd.Args = rangeArgs(1, 1)
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			return runHistoryImport(cmd.Context(), opts, args[0], cmd.OutOrStdout())
		}
	}
	addDBFlag(cmd, &opts.db)
	f := cmd.Flags()
	f.StringVar(&opts.commit, "commit", "", "the commit the run measured (default: $GITHUB_SHA, or git's HEAD)")
	f.StringVar(&opts.branch, "branch", "", "its branch (default: $GITHUB_HEAD_REF or $GITHUB_REF_NAME, or git's)")
	f.StringVar(&opts.at, "time", "", "its time, RFC 3339 (default: the commit's, or the run's start)")
	f.StringArrayVar(&opts.tags, "tag", nil, "a free tag, k=v (repeatable; $GITHUB_RUN_ID is run)")
	return cmd
}

// entry makes the entry of run from the flags, the CI's environment and
// git; fromRun takes the commit and time of the run itself (import).
func (o *historyAddOptions) entry(run *results.Run, fromRun bool) (history.Entry, error) {
	e := history.Entry{Run: run, Commit: o.commit, Branch: o.branch, Tags: map[string]string{}}
	if id := os.Getenv("GITHUB_RUN_ID"); id != "" {
		e.Tags["run"] = id
	}
	for _, t := range o.tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return e, usageErrorf("--tag %q: want KEY=VALUE", t)
		}
		e.Tags[k] = v
	}
	if e.Commit == "" && fromRun {
		e.Commit = run.Env.Commit
	}
	e.Commit = firstOf(e.Commit, os.Getenv("GITHUB_SHA"), git("rev-parse", "HEAD"))
	e.Branch = firstOf(e.Branch, os.Getenv("GITHUB_HEAD_REF"), os.Getenv("GITHUB_REF_NAME"), git("rev-parse", "--abbrev-ref", "HEAD"))
	if e.Commit == "" || e.Branch == "" || e.Branch == "HEAD" {
		return e, usageErrorf("the commit or the branch is unknown (no git repository here, no GITHUB_SHA or GITHUB_REF_NAME): give --commit and --branch")
	}
	at, err := o.time(run, e.Commit, fromRun)
	if err != nil {
		return e, err
	}
	e.Time = at
	return e, nil
}

// time is --time, else the commit's time (add), else the run's start.
func (o *historyAddOptions) time(run *results.Run, commit string, fromRun bool) (time.Time, error) {
	s := o.at
	if s == "" && !fromRun {
		s = git("show", "-s", "--format=%cI", commit)
	}
	if s == "" {
		s = run.Started
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if o.at != "" {
			return at, usageErrorf("--time %q: want RFC 3339, like 2026-12-01T10:00:00Z", o.at)
		}
		return time.Now(), nil
	}
	return at, nil
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// git runs git in the working directory and returns its output, or ""
// where there is no git or no repository.
func git(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func runHistoryAdd(ctx context.Context, opts *historyAddOptions, files []string, stdout io.Writer) error {
	var entries []history.Entry
	for _, path := range files {
		run, err := readRun(path)
		if err != nil {
			return err
		}
		e, err := opts.entry(run, false)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	return addEntries(ctx, opts.db, files, entries, stdout)
}

func runHistoryImport(ctx context.Context, opts *historyAddOptions, dir string, stdout io.Writer) error {
	var files []string
	var entries []history.Entry
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		run, err := readRun(path)
		if err != nil {
			fmt.Fprintf(stdout, "skipped %s: %v\n", path, err)
			return nil
		}
		e, err := opts.entry(run, true)
		if err != nil {
			return err
		}
		files, entries = append(files, path), append(entries, e)
		return nil
	})
	if err != nil {
		return usageErrorf("import %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return usageErrorf("import %s: no bench run file in it", dir)
	}
	return addEntries(ctx, opts.db, files, entries, stdout)
}

func addEntries(ctx context.Context, db string, files []string, entries []history.Entry, stdout io.Writer) error {
	s, err := openHistory(ctx, db, false)
	if err != nil {
		return err
	}
	defer s.Close()
	for i, e := range entries {
		added, err := s.Add(ctx, e)
		if err != nil {
			return err
		}
		what := "added"
		if !added {
			what = "already recorded"
		}
		fmt.Fprintf(stdout, "%s %s: commit %s, branch %s, %s\n", what, files[i], shortHash(e.Commit), e.Branch, e.Time.UTC().Format(time.RFC3339))
	}
	return nil
}

func shortHash(s string) string { return s[:min(12, len(s))] }

func newHistoryListCmd() *cobra.Command {
	var db, branch, format string
	var limit int
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the runs of the history, oldest first",
		Example: "  $ flipbench history list --branch main --limit 20\n  $ flipbench history list --format json",
		Args:    rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageErrorf("--limit %d: want 0 (all) or more", limit)
			}
			s, err := openHistory(cmd.Context(), db, true)
			if err != nil {
				return err
			}
			defer s.Close()
			es, err := s.List(cmd.Context(), history.Query{Branch: branch, Limit: limit})
			if err != nil {
				return err
			}
			return report.WriteHistory(cmd.OutOrStdout(), es, format)
		},
	}
	addDBFlag(cmd, &db)
	cmd.Flags().StringVar(&branch, "branch", "", "only this branch's runs")
	cmd.Flags().IntVar(&limit, "limit", 0, "only the newest N runs (0: all)")
	cmd.Flags().Var(newEnum(&format, report.FormatTable, report.HistoryFormats...), "format", "output format")
	return cmd
}

func newHistoryShowCmd() *cobra.Command {
	var db, branch, setup, format string
	cmd := &cobra.Command{
		Use:   "show METRIC",
		Short: "Print a metric's series over the runs",
		Long: `Print a metric's values over the runs of the history, one series for each setup
(CPUs, image, burst, threads) and branch. METRIC is named as compare names it:
speedup, cluster.last, standard.cpu_per_request, cluster/4w.p99. --format csv
writes the shape Apache Otava reads, one series: --branch and --setup choose it.`,
		Example: "  $ flipbench history show cluster.last\n  $ flipbench history show speedup --branch main --format csv > speedup.csv",
		Args:    rangeArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openHistory(cmd.Context(), db, true)
			if err != nil {
				return err
			}
			defer s.Close()
			es, err := s.List(cmd.Context(), history.Query{Branch: branch})
			if err != nil {
				return err
			}
			series, err := history.SeriesOf(es, args[0])
			if err != nil {
				return usageErrorf("%w", err)
			}
			if setup != "" {
				series = slices.DeleteFunc(series, func(s history.Series) bool { return s.Setup != setup })
				if len(series) == 0 {
					return usageErrorf("--setup %q: no series of that setup", setup)
				}
			}
			if err := report.WriteSeries(cmd.OutOrStdout(), series, format); errors.Is(err, report.ErrManySeries) {
				return usageErrorf("--format csv: %w", err)
			} else if err != nil {
				return err
			}
			return nil
		},
	}
	addDBFlag(cmd, &db)
	cmd.Flags().StringVar(&branch, "branch", "", "only this branch's runs")
	cmd.Flags().StringVar(&setup, "setup", "", `only this setup's series, as the table prints it ("cpus=2 image=... n=10 threads=1")`)
	cmd.Flags().Var(newEnum(&format, report.FormatTable, report.HistoryFormats...), "format", "output format")
	return cmd
}
