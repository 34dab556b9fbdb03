package bench

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestTurnsAreABBA: three searches take one step each in turn, the arms
// in order and then reversed; a search that ends drops out of the turns
// and the others go on.
func TestTurnsAreABBA(t *testing.T) {
	t.Parallel()
	tn := newTurns([]string{"a", "b", "c"})
	steps := map[string]int{"a": 2, "b": 4, "c": 3} // how many steps each search takes
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for arm, n := range steps {
		wg.Go(func() {
			defer tn.finish(arm)
			for range n {
				if err := tn.wait(ctx, arm); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, arm)
				mu.Unlock()
				tn.pass(arm)
			}
		})
	}
	wg.Wait()
	want := []string{"a", "b", "c", "c", "b", "a", "b", "c", "b"}
	if !slices.Equal(order, want) {
		t.Errorf("steps ran %v, want %v", order, want)
	}
}

// TestTurnsWaitEndsWithTheContext: a search waiting for its turn stops
// when the bench is cancelled.
func TestTurnsWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	tn := newTurns([]string{"a", "b"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tn.wait(ctx, "b") }() // a holds the turn and never passes
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("wait returned nil after cancel, want the context's error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return after cancel")
	}
}
