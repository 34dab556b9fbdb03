// Package historytest checks that a store keeps a history as
// history.Store says; every store's tests run it.
package historytest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flipbench/flipbench/history"
	"github.com/flipbench/flipbench/results"
)

// Conformance is what every history.Store must do; each store's test
// runs it on a new, empty store.
func Conformance(t *testing.T, s history.Store) {
	t.Helper()
	ctx := context.Background()
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	runOf := func(started string) *results.Run { return &results.Run{Schema: results.RunSchema, Started: started} }
	add := func(e history.Entry) bool {
		t.Helper()
		added, err := s.Add(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return added
	}
	// Added out of time order: listed in time order.
	add(history.Entry{Commit: "c2", Branch: "main", Time: day.Add(2 * time.Hour), Run: runOf("2")})
	add(history.Entry{Commit: "c1", Branch: "main", Time: day.Add(time.Hour), Run: runOf("1")})
	add(history.Entry{Commit: "f1", Branch: "feature", Time: day.Add(3 * time.Hour), Run: runOf("3")})
	if add(history.Entry{Commit: "again", Branch: "main", Time: day, Run: runOf("1")}) {
		t.Error("the same run was recorded twice")
	}
	commits := func(q history.Query) []string {
		t.Helper()
		es, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var cs []string
		for _, e := range es {
			cs = append(cs, e.Commit)
		}
		return cs
	}
	for _, tt := range []struct {
		q    history.Query
		want []string
	}{
		{history.Query{}, []string{"c1", "c2", "f1"}},
		{history.Query{Branch: "main"}, []string{"c1", "c2"}},
		{history.Query{Since: day.Add(2 * time.Hour)}, []string{"c2", "f1"}},
		{history.Query{Limit: 2}, []string{"c2", "f1"}},
	} {
		if got := commits(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("List(%+v): %v, want %v", tt.q, got, tt.want)
		}
	}
	// Adds at once lose nothing.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { add(history.Entry{Branch: "load", Time: day, Run: runOf(fmt.Sprint("load-", i))}) })
	}
	wg.Wait()
	if got := commits(history.Query{Branch: "load"}); len(got) != 20 {
		t.Errorf("%d of 20 concurrent adds recorded", len(got))
	}
}
