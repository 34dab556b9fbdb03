package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flipbench/flipbench/results"
)

// TestWarmUpIsSentAndDropped: the warm-up's requests reach the server
// before the rounds and are in no figure, no record and no result file;
// Progress tells them apart.
func TestWarmUpIsSentAndDropped(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer ts.Close()
	var mu sync.Mutex
	var warm, measured, recorded int
	cfg := Config{URL: ts.URL, Requests: 4, Rounds: 2, WarmUp: 3,
		OnResult: func(results.Record) { mu.Lock(); recorded++; mu.Unlock() },
		Progress: func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			if p.WarmUp {
				warm++
			} else {
				measured++
			}
		}}
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 11 || sum.Requests != 8 || len(sum.Results) != 8 || recorded != 8 || warm != 3 || measured != 8 {
		t.Errorf("server hit %d times (want 3+8), summary of %d requests (want 8), %d records told, progress %d warm-up and %d measured",
			hits.Load(), sum.Requests, recorded, warm, measured)
	}
}

// TestWarmUpThatFailsStopsTheLoad: a server that answers no warm-up
// request is not measured.
func TestWarmUpThatFailsStopsTheLoad(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	sum, err := Run(context.Background(), Config{URL: ts.URL, Requests: 4, WarmUp: 2})
	if !errors.Is(err, ErrWarmUpFailed) || sum != nil || err.Error() != "warm-up: all 2 requests failed (http_503: 2)" {
		t.Errorf("got %v, %v; want ErrWarmUpFailed saying how they failed", sum, err)
	}
}
