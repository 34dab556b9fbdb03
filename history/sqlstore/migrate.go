package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema's versions, in order: migration i brings a
// store from version i to i+1. One schema serves both databases, so its
// types are the ones they share (BIGINT, DOUBLE PRECISION, TEXT); times
// are Unix nanoseconds. A released migration is never edited: a change
// is a new one.
var migrations = []string{
	// 1: every run kept whole (its JSON, as bench wrote it) beside a
	// table of its figures, for queries of a series.
	`CREATE TABLE runs (
		id TEXT PRIMARY KEY,
		commit_sha TEXT NOT NULL,
		branch TEXT NOT NULL,
		at_ns BIGINT NOT NULL,
		added_ns BIGINT NOT NULL,
		tags TEXT NOT NULL,
		setup TEXT NOT NULL,
		run TEXT NOT NULL
	);
	CREATE INDEX runs_branch_at ON runs (branch, at_ns);
	CREATE TABLE figures (
		run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		metric TEXT NOT NULL,
		arm TEXT NOT NULL,
		field TEXT NOT NULL,
		unit TEXT NOT NULL,
		higher_is_better BOOLEAN NOT NULL,
		value DOUBLE PRECISION NOT NULL,
		PRIMARY KEY (run_id, metric)
	);
	CREATE INDEX figures_metric ON figures (metric);`,
}

// SchemaVersion is the version of the schema this build writes.
var SchemaVersion = len(migrations)

// migrationLock is the PostgreSQL advisory lock that serialises the
// migrations of processes opening one history at once (SQLite's
// immediate transactions do that by themselves).
const migrationLock = 0x666c6970 // "flip"

// migrate brings the schema to SchemaVersion, in one transaction, so
// that two processes opening a new history at once create it once. A
// history that is up to date is only read, so that a user or a role that
// may not write (list, show, check) can open it.
func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err == nil {
		if version > SchemaVersion {
			return fmt.Errorf("schema version %d is newer than this flipbench's %d: upgrade flipbench", version, SchemaVersion)
		}
		if version == SchemaVersion {
			return nil
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.Kind == "postgres" {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, applied_ns BIGINT NOT NULL)`); err != nil {
			return err
		}
		var version int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return err
		}
		if version > SchemaVersion {
			return fmt.Errorf("schema version %d is newer than this flipbench's %d: upgrade flipbench", version, SchemaVersion)
		}
		for v := version; v < SchemaVersion; v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ns) VALUES ($1, $2)`, v+1, time.Now().UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
}
