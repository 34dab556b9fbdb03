package history

import (
	"context"
	"time"

	"github.com/flipbench/flipbench/results"
)

// Entry is one run in a history.
type Entry struct {
	// ID is the run's digest ([results.Run.Digest]): a run added twice is
	// one entry.
	ID string
	// Commit and Branch are what the run measured; Time when it ran.
	Commit, Branch string
	Time           time.Time
	// Tags are the user's, free: runner=ci-2cpu.
	Tags map[string]string
	// Run is the whole run file.
	Run *results.Run
}

// Query selects entries from a store. Its zero value selects all.
type Query struct {
	// Branch keeps one branch's entries; empty means every branch.
	Branch string
	// Since keeps the entries of that time or later; zero means all.
	Since time.Time
	// Limit keeps the newest Limit entries; zero means all.
	Limit int
}

// Store keeps a history of runs. Its methods may be called from several
// goroutines, and several processes may add to one store at once.
type Store interface {
	// Add records e (ID set from e.Run when empty), unless an entry of
	// its ID is there already: added reports which.
	Add(ctx context.Context, e Entry) (added bool, err error)
	// List returns the entries q selects, oldest first (by Time, then by
	// the order they were added).
	List(ctx context.Context, q Query) ([]Entry, error)
	// Close releases the store.
	Close() error
}
