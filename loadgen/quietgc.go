package loadgen

import (
	"runtime/debug"
	"sync"
	"time"
)

// quietGC holds the garbage collector off while a burst is released. A
// fresh process's first burst met its first collection in the middle of
// its release (a heap of 3 MB reaching its 4 MB goal as a hundred
// requests set up their connections' buffers), which spread the sends of
// `load -n 100` over 9 to 16 ms, against 2 to 8 ms with the collector
// off. A burst allocates little once its requests are built, so the heap
// grows by what its sends need, for the moment they take.
var quietGC gcHold

// quietMax bounds a hold: past it the collector runs again, whatever
// the burst still has to send.
const quietMax = time.Second

// gcHold turns the collector off while any hold lasts, and back to its
// setting when the last one ends. A memory limit (GOMEMLIMIT) still
// applies meanwhile.
type gcHold struct {
	mu      sync.Mutex
	holds   int
	percent int // the setting to restore
}

// hold turns the collector off now, until the function it returns is
// called (once) for every hold.
func (h *gcHold) hold() (end func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holds == 0 {
		h.percent = debug.SetGCPercent(-1)
	}
	h.holds++
	return sync.OnceFunc(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.holds--; h.holds == 0 {
			debug.SetGCPercent(h.percent)
		}
	})
}

// until calls end once wg is done or max has passed.
func until(wg *sync.WaitGroup, max time.Duration, end func()) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	end()
}
