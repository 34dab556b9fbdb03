package history

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Memory is a [Store] in this process's memory, gone when it exits: for
// tests, and a history that is read once.
type Memory struct {
	mu      sync.Mutex
	entries []Entry
}

var _ Store = (*Memory)(nil)

// Add records e unless its ID is recorded.
func (m *Memory) Add(ctx context.Context, e Entry) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if e.ID == "" {
		if e.Run == nil {
			return false, errors.New("history: an entry without a run or an ID")
		}
		id, err := e.Run.Digest()
		if err != nil {
			return false, err
		}
		e.ID = id
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.ContainsFunc(m.entries, func(o Entry) bool { return o.ID == e.ID }) {
		return false, nil
	}
	m.entries = append(m.entries, e)
	return true, nil
}

// List returns the entries q selects, oldest first.
func (m *Memory) List(ctx context.Context, q Query) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	out := slices.DeleteFunc(slices.Clone(m.entries), func(e Entry) bool {
		return q.Branch != "" && e.Branch != q.Branch || e.Time.Before(q.Since)
	})
	m.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, nil
}

// Close does nothing.
func (m *Memory) Close() error { return nil }
