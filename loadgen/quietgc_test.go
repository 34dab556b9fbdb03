package loadgen

import (
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

// TestQuietGCRestoresTheCollector: the collector is off while any hold
// lasts, and back to its setting when the last ends, however often each
// end is called; until ends a hold at its bound if the burst never does.
func TestQuietGCRestoresTheCollector(t *testing.T) {
	prev := debug.SetGCPercent(77)
	defer debug.SetGCPercent(prev)
	percent := func() int { // reads the setting without changing it
		p := debug.SetGCPercent(0)
		debug.SetGCPercent(p)
		return p
	}
	var h gcHold
	end1, end2 := h.hold(), h.hold()
	if p := percent(); p != -1 {
		t.Errorf("held twice: GC percent %d, want -1 (off)", p)
	}
	end1()
	end1()
	if p := percent(); p != -1 {
		t.Errorf("one hold ended (twice): GC percent %d, want -1 while the other lasts", p)
	}
	end2()
	if p := percent(); p != 77 {
		t.Errorf("every hold ended: GC percent %d, want 77 again", p)
	}
	var never sync.WaitGroup
	never.Add(1)
	start := time.Now()
	until(&never, 50*time.Millisecond, h.hold())
	if p := percent(); p != 77 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("a hold past its bound: GC percent %d after %s, want 77 after 50ms", p, time.Since(start))
	}
}
