package history

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flipbench/flipbench/results"
)

// testStore is what every Store must do; each store's test runs it.
func testStore(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	runOf := func(started string) *results.Run { return &results.Run{Schema: results.RunSchema, Started: started} }
	add := func(e Entry) bool {
		t.Helper()
		added, err := s.Add(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return added
	}
	// Added out of time order: listed in time order.
	add(Entry{Commit: "c2", Branch: "main", Time: day.Add(2 * time.Hour), Run: runOf("2")})
	add(Entry{Commit: "c1", Branch: "main", Time: day.Add(time.Hour), Run: runOf("1")})
	add(Entry{Commit: "f1", Branch: "feature", Time: day.Add(3 * time.Hour), Run: runOf("3")})
	if add(Entry{Commit: "again", Branch: "main", Time: day, Run: runOf("1")}) {
		t.Error("the same run was recorded twice")
	}
	commits := func(q Query) []string {
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
		q    Query
		want []string
	}{
		{Query{}, []string{"c1", "c2", "f1"}},
		{Query{Branch: "main"}, []string{"c1", "c2"}},
		{Query{Since: day.Add(2 * time.Hour)}, []string{"c2", "f1"}},
		{Query{Limit: 2}, []string{"c2", "f1"}},
	} {
		if got := commits(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("List(%+v): %v, want %v", tt.q, got, tt.want)
		}
	}
	// Adds at once lose nothing.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { add(Entry{Branch: "load", Time: day, Run: runOf(fmt.Sprint("load-", i))}) })
	}
	wg.Wait()
	if got := commits(Query{Branch: "load"}); len(got) != 20 {
		t.Errorf("%d of 20 concurrent adds recorded", len(got))
	}
}

func TestMemory(t *testing.T) {
	t.Parallel()
	testStore(t, &Memory{})
}

func TestDigestIsTheContent(t *testing.T) {
	t.Parallel()
	a, b := &results.Run{Started: "x"}, &results.Run{Started: "x"}
	da, _ := a.Digest()
	db, _ := b.Digest()
	b.Started = "y"
	dc, _ := b.Digest()
	if da != db || da == dc || len(da) != 64 {
		t.Errorf("digests %s %s %s: want the same run one digest, another run another", da, db, dc)
	}
}
