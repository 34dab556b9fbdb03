package queue

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/flipbench/flipbench/server"
)

// SeenWorker is a worker as the job records show it: any worker that
// took a job, on this machine or another, since the front started.
type SeenWorker struct {
	// Name and PID identify it (a restarted worker is a new PID).
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Running is its jobs under way; Served and Failed those it ended.
	Running int   `json:"running"`
	Served  int64 `json:"served"`
	Failed  int64 `json:"failed"`
	// LastSeenS is how long ago a record last named it, in seconds.
	LastSeenS float64 `json:"last_seen_s"`

	last time.Time
}

// seenWorkers tallies the job records by the worker that took each job:
// the only view a front has of workers it does not supervise, and the
// served counts of those it does (their own counts stay in their
// processes).
type seenWorkers struct {
	mu      sync.Mutex
	workers map[workerKey]*SeenWorker
	running map[string]workerKey // job ID: who runs it
}

type workerKey struct {
	name string
	pid  int
}

func newSeenWorkers() *seenWorkers {
	return &seenWorkers{workers: map[workerKey]*SeenWorker{}, running: map[string]workerKey{}}
}

// observe counts a job record's news: a worker took it, or ended it.
func (s *seenWorkers) observe(st *JobStatus) {
	if st.Worker == "" {
		return // not taken yet
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := workerKey{st.Worker, st.PID}
	w := s.workers[k]
	if w == nil {
		w = &SeenWorker{Name: st.Worker, PID: st.PID}
		s.workers[k] = w
	}
	w.last = time.Now()
	if prev, ok := s.running[st.ID]; ok {
		// Taken again (its worker died) or ended: no longer runs there.
		if p := s.workers[prev]; p != nil {
			p.Running--
		}
		delete(s.running, st.ID)
	}
	switch {
	case st.State == StateDone:
		w.Served++
	case st.State == StateFailed:
		w.Failed++
	default:
		w.Running++
		s.running[st.ID] = k
	}
}

// split returns the local workers with their served counts filled in
// from the records (by PID), and every other worker seen, most recent
// first.
func (s *seenWorkers) split(local []server.WorkerHealth) ([]server.WorkerHealth, []SeenWorker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pids := map[int]int{}
	for i, l := range local {
		pids[l.PID] = i
	}
	remote := []SeenWorker{}
	for _, w := range s.workers {
		if i, ok := pids[w.PID]; ok && w.PID != 0 {
			local[i].Served += w.Served
			local[i].Inflight += w.Running
			continue
		}
		c := *w
		c.LastSeenS = time.Since(w.last).Round(time.Millisecond).Seconds()
		remote = append(remote, c)
	}
	slices.SortFunc(remote, func(a, b SeenWorker) int {
		return cmp.Or(cmp.Compare(a.LastSeenS, b.LastSeenS), cmp.Compare(a.Name, b.Name), cmp.Compare(a.PID, b.PID))
	})
	return local, remote
}
