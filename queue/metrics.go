package queue

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flipbench/flipbench/httpfront"
)

// frontStats are a queue front's metrics: those of every front
// ([httpfront.Metrics], under the names a cluster's supervisor uses), the
// outcomes of jobs, and the stream's state, read at each scrape.
type frontStats struct {
	*httpfront.Metrics
	jobs *prometheus.CounterVec

	mu           sync.Mutex
	done, failed int64
}

func newFrontStats(f *Front) *frontStats {
	cfg := httpfront.MetricsConfig{QueueLength: func() float64 {
		f.mu.Lock()
		defer f.mu.Unlock()
		return float64(len(f.waiting))
	}}
	if f.cfg.Restarts != nil {
		cfg.Restarts = func() float64 { return float64(f.cfg.Restarts()) }
	}
	s := &frontStats{
		Metrics: httpfront.NewMetrics(cfg),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flipbench_jobs_total", Help: "Jobs seen ending, by state (done, failed).",
		}, []string{"state"}),
	}
	s.Register(s.jobs, &streamCollector{q: f.q})
	return s
}

// ended records a job's end.
func (s *frontStats) ended(st *JobStatus) {
	s.jobs.WithLabelValues(st.State).Inc()
	if st.Started != nil {
		s.Waited(time.Duration(st.QueueMs * float64(time.Millisecond)))
	}
	s.mu.Lock()
	if st.State == StateDone {
		s.done++
	} else {
		s.failed++
	}
	s.mu.Unlock()
	if st.Finished != nil && st.Started != nil {
		s.JobDone(st.Finished.Sub(*st.Started))
	}
}

func (s *frontStats) counts() (rejected, done, failed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Rejected(), s.done, s.failed
}

// streamCollector reads the stream's state once a scrape.
type streamCollector struct{ q *Queue }

var (
	descMessages    = prometheus.NewDesc("flipbench_stream_messages", "Jobs in the stream: waiting for a worker or running.", nil, nil)
	descPending     = prometheus.NewDesc("flipbench_stream_pending", "Jobs in the stream that no worker has taken.", nil, nil)
	descAckPending  = prometheus.NewDesc("flipbench_stream_ack_pending", "Jobs taken by a worker and not yet acknowledged.", nil, nil)
	descWaiting     = prometheus.NewDesc("flipbench_stream_waiting_pulls", "Workers' pull requests waiting for a job: idle worker slots.", nil, nil)
	descConsumers   = prometheus.NewDesc("flipbench_stream_consumers", "Consumers of the stream.", nil, nil)
	descRedelivered = prometheus.NewDesc("flipbench_stream_redelivered", "Jobs delivered again (a worker died or stalled) and not yet acknowledged.", nil, nil)
)

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descPending, descAckPending, descWaiting, descConsumers, descRedelivered} {
		ch <- d
	}
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := c.q.Depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descMessages, err)
		return
	}
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	gauge(descMessages, float64(d.Messages))
	gauge(descPending, float64(d.Pending))
	gauge(descAckPending, float64(d.AckPending))
	gauge(descWaiting, float64(d.Waiting))
	gauge(descConsumers, float64(d.Consumers))
	gauge(descRedelivered, float64(d.Redelivered))
}
