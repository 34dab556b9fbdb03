//go:build linux || darwin

package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// frontStats are the supervisor's metrics, served at /metrics in the
// Prometheus text format.
type frontStats struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	jobSeconds prometheus.Histogram
	queueWait  prometheus.Histogram
	rejected   prometheus.Counter
	restarts   prometheus.Counter

	mu       sync.Mutex
	recent   time.Duration // moving average of the time a worker holds a request
	rejects  int64
	reported bool
}

// jobBuckets span a tiny image's milliseconds to a huge one's minutes.
var jobBuckets = prometheus.ExponentialBuckets(0.005, 2, 16) // 5 ms to 164 s

func newFrontStats(queueLength func() float64) *frontStats {
	s := &frontStats{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flipbench_requests_total", Help: "Requests answered, by HTTP status, by the workers or by the supervisor itself (503, 408, 431).",
		}, []string{"code"}),
		jobSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flipbench_job_seconds", Help: "Time a worker held a request, from taking it to closing it.", Buckets: jobBuckets,
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flipbench_queue_wait_seconds", Help: "Time a request waited in the supervisor for a worker.", Buckets: jobBuckets,
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flipbench_rejected_total", Help: "Requests answered 503 by the supervisor: the queue was full, or the cluster was stopping.",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flipbench_worker_restarts_total", Help: "Worker processes started again after one exited.",
		}),
	}
	s.reg.MustRegister(s.requests, s.jobSeconds, s.queueWait, s.rejected, s.restarts,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flipbench_queue_length", Help: "Requests waiting for a worker now.",
		}, queueLength),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// done records a request a worker reports closed.
func (s *frontStats) done(d jobDone) {
	if d.Status != 0 {
		s.requests.WithLabelValues(strconv.Itoa(d.Status)).Inc()
	}
	s.jobSeconds.Observe(d.Held.Seconds())
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reported {
		s.recent, s.reported = d.Held, true
		return
	}
	s.recent += (d.Held - s.recent) / 8 // the last few jobs weigh most
}

// reject counts a 503.
func (s *frontStats) reject() {
	s.rejected.Inc()
	s.mu.Lock()
	s.rejects++
	s.mu.Unlock()
}

func (s *frontStats) rejectedCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejects
}

// recentJob is the recent time a worker holds a request; a second until
// one is reported.
func (s *frontStats) recentJob() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reported {
		return time.Second
	}
	return s.recent
}
