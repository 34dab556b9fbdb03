package httpfront

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsConfig says what a front's [Metrics] read from the front itself.
type MetricsConfig struct {
	// QueueLength reports the requests waiting for a worker now
	// (flipbench_queue_length). Nil means none is reported.
	QueueLength func() float64
	// Restarts reports how many worker processes were started again
	// after one exited (flipbench_worker_restarts_total). Nil means the
	// front has no workers of its own, and no such metric.
	Restarts func() float64
}

// Metrics are a front's Prometheus metrics, served at /metrics in the
// Prometheus text format ([Metrics.Handler]), with the names every
// flipbench front uses, so that one dashboard reads a cluster and a
// queue alike. It also keeps the recent job time and the count of 503s,
// for Retry-After and /healthz.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	jobSeconds prometheus.Histogram
	queueWait  prometheus.Histogram
	rejected   prometheus.Counter

	mu       sync.Mutex
	recent   time.Duration // moving average of the jobs' time
	reported bool
	rejects  int64
}

// jobBuckets span a tiny image's milliseconds to a huge one's minutes.
var jobBuckets = prometheus.ExponentialBuckets(0.005, 2, 16) // 5 ms to 164 s

// NewMetrics makes a front's metrics, with the Go runtime's and the
// process's.
func NewMetrics(cfg MetricsConfig) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flipbench_requests_total", Help: "Requests answered, by HTTP status (a cluster's: by its workers or by the supervisor itself: 503, 408, 431).",
		}, []string{"code"}),
		jobSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flipbench_job_seconds", Help: "Time a worker spent on a request's job, from taking it to its end.", Buckets: jobBuckets,
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flipbench_queue_wait_seconds", Help: "Time a request waited for a worker (a queue's: from its arrival to its job's start, the upload included).", Buckets: jobBuckets,
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flipbench_rejected_total", Help: "Requests answered 503: the queue was full, or the front was stopping.",
		}),
	}
	m.reg.MustRegister(m.requests, m.jobSeconds, m.queueWait, m.rejected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.QueueLength != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flipbench_queue_length", Help: "Requests waiting for a worker now (a queue front's: its jobs that no worker has taken).",
		}, cfg.QueueLength))
	}
	if cfg.Restarts != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "flipbench_worker_restarts_total", Help: "Worker processes started again after one exited.",
		}, cfg.Restarts))
	}
	return m
}

// Register adds a front's own collectors (a queue's job outcomes and its
// stream's state).
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Answered counts a response by its status.
func (m *Metrics) Answered(code int) { m.requests.WithLabelValues(strconv.Itoa(code)).Inc() }

// Waited records how long a request waited for a worker.
func (m *Metrics) Waited(d time.Duration) { m.queueWait.Observe(d.Seconds()) }

// JobDone records the time a worker spent on a job, and keeps a moving
// average of it for [Metrics.RecentJob].
func (m *Metrics) JobDone(d time.Duration) {
	m.jobSeconds.Observe(d.Seconds())
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.reported {
		m.recent, m.reported = d, true
		return
	}
	m.recent += (d - m.recent) / 8 // the last few jobs weigh most
}

// Reject counts a 503.
func (m *Metrics) Reject() {
	m.rejected.Inc()
	m.mu.Lock()
	m.rejects++
	m.mu.Unlock()
}

// Rejected is the count of 503s since the start.
func (m *Metrics) Rejected() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rejects
}

// RecentJob is the recent time a job takes; a second until one is seen.
func (m *Metrics) RecentJob() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.reported {
		return time.Second
	}
	return m.recent
}

// RetryAfter estimates, in whole seconds and at least one, when a client
// turned away now may find room: the requests waiting, and this one,
// times the recent job time, over the jobs that run at once.
func RetryAfter(waiting, slots int, job time.Duration) int {
	return max(1, int(math.Ceil(float64(waiting+1)*job.Seconds()/float64(max(slots, 1)))))
}
