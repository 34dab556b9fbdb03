// Package sqlstore keeps a history of runs in a database: a SQLite
// file, or PostgreSQL for a history that several runners share. It is
// the only importer of database drivers, so that reading and reporting
// runs never links them.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	// The two databases a history may live in: SQLite through a pure-Go
	// driver (no cgo, so the static builds and cross-compiles stay as
	// they are), PostgreSQL through pgx.
	_ "github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/results"
)

// DefaultDB is the SQLite file a history is kept in when none is named.
const DefaultDB = "flipbench-history.db"

// Store is a [history.Store] in a database: a SQLite file, or PostgreSQL for a
// history that several runners share.
type Store struct {
	db *sql.DB
	// Kind is "sqlite" or "postgres"; Where the file or the server,
	// password hidden, for messages.
	Kind, Where string
}

var _ history.Store = (*Store)(nil)

// ErrBadDB is a --db that names no usable store.
var ErrBadDB = errors.New("bad history database")

// busyTimeout is how long a SQLite writer waits for another's lock: two
// CI jobs adding at once both land, one after the other.
const busyTimeout = 30 * time.Second

// Open opens the history at db, a postgres:// URL or a SQLite file's
// path (created if missing; its directory must exist), and brings its
// schema up to date.
func Open(ctx context.Context, db string) (*Store, error) {
	s, err := open(db)
	if err != nil {
		return nil, err
	}
	// A first connection to a new SQLite file switches it to WAL, which
	// takes the file's exclusive lock: another process opening it at that
	// moment gets SQLITE_BUSY at once, its busy timeout unused (20 stores
	// opened together in CI's race pass failed so). Such an open is tried
	// again, for as long as the busy timeout.
	deadline, wait := time.Now().Add(busyTimeout), 10*time.Millisecond
	for {
		err = s.ready(ctx)
		if err == nil || !busy(err) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(wait)
		wait = min(2*wait, 500*time.Millisecond)
	}
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("history %s: %w", s.Where, err)
	}
	return s, nil
}

// ready connects to the store and brings its schema up to date.
func (s *Store) ready(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return err
	}
	return s.migrate(ctx)
}

// busy reports whether err is SQLite's SQLITE_BUSY (or one of its
// extended codes).
func busy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func open(db string) (*Store, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		conn, err := sql.Open("pgx", db)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadDB, err)
		}
		return &Store{db: conn, Kind: "postgres", Where: Redact(db)}, nil
	}
	if db == "" || strings.Contains(db, "://") {
		return nil, fmt.Errorf("%w %q: want a SQLite file's path or a postgres:// URL", ErrBadDB, Redact(db))
	}
	if strings.ContainsAny(db, "?#") {
		// They would end the path of the SQLite driver's file: URL.
		return nil, fmt.Errorf("%w %q: a SQLite path may not hold ? or #", ErrBadDB, db)
	}
	if fi, err := os.Stat(filepath.Dir(db)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w %q: its directory %s does not exist", ErrBadDB, db, filepath.Dir(db))
	}
	// WAL lets readers go on while one writes; immediate transactions
	// take the write lock when they begin, so that two writers queue on
	// the busy timeout instead of failing when the second upgrades.
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate",
		db, busyTimeout.Milliseconds())
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDB, err)
	}
	return &Store{db: conn, Kind: "sqlite", Where: db}, nil
}

// Redact is db as messages may show it: a URL's password, in its user
// information or as a password parameter, hidden.
func Redact(db string) string {
	if !strings.Contains(db, "://") {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "(a database URL that does not parse)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Add records e and its figures in one transaction, unless a run of its
// ID is recorded.
func (s *Store) Add(ctx context.Context, e history.Entry) (bool, error) {
	if e.Run == nil {
		return false, errors.New("history: an entry without a run")
	}
	if e.ID == "" {
		id, err := e.Run.Digest()
		if err != nil {
			return false, err
		}
		e.ID = id
	}
	run, err := json.Marshal(e.Run)
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	tags, err := json.Marshal(e.Tags)
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	added := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (id, commit_sha, branch, at_ns, added_ns, tags, setup, run)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			e.ID, e.Commit, e.Branch, e.Time.UnixNano(), time.Now().UnixNano(), string(tags), history.Setup(e.Run), string(run))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // recorded already: its figures are too
		}
		added = true
		for _, f := range history.Figures(e.Run) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO figures (run_id, metric, arm, field, unit, higher_is_better, value)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ID, f.Metric, f.Arm, f.Field, f.Unit, f.HigherIsBetter, f.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("history %s: add %s: %w", s.Where, e.ID[:min(12, len(e.ID))], err)
	}
	return added, nil
}

// List returns the entries q selects, oldest first.
func (s *Store) List(ctx context.Context, q history.Query) ([]history.Entry, error) {
	query := `SELECT id, commit_sha, branch, at_ns, tags, run FROM runs WHERE at_ns >= $1`
	args := []any{int64(math.MinInt64)}
	if !q.Since.IsZero() {
		args[0] = q.Since.UnixNano()
	}
	if q.Branch != "" {
		query += ` AND branch = $2`
		args = append(args, q.Branch)
	}
	query += ` ORDER BY at_ns, added_ns, id`
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", s.Where, err)
	}
	defer rows.Close()
	var out []history.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("history %s: %w", s.Where, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history %s: %w", s.Where, err)
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, nil
}

func scanEntry(rows *sql.Rows) (history.Entry, error) {
	var (
		e         history.Entry
		atNs      int64
		tags, run string
	)
	if err := rows.Scan(&e.ID, &e.Commit, &e.Branch, &atNs, &tags, &run); err != nil {
		return e, err
	}
	e.Time = time.Unix(0, atNs).UTC()
	if err := json.Unmarshal([]byte(tags), &e.Tags); err != nil {
		return e, fmt.Errorf("run %s: tags: %w", e.ID, err)
	}
	e.Run = &results.Run{}
	if err := json.Unmarshal([]byte(run), e.Run); err != nil {
		return e, fmt.Errorf("run %s: %w", e.ID, err)
	}
	e.Run.Derive() // figures are recomputed from the requests, as a file's are
	return e, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// inTx runs f in a transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
