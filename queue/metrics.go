package queue

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flipbench/flipbench/server"
)

// frontStats are the front's metrics, served at /metrics in the
// Prometheus text format, with the names a cluster's supervisor uses
// where they mean the same.
type frontStats struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	jobs       *prometheus.CounterVec
	jobSeconds prometheus.Histogram
	queueWait  prometheus.Histogram
	rejected   prometheus.Counter

	mu       sync.Mutex
	recent   time.Duration // moving average of the jobs' service time
	reported bool
	rejects  int64
	done     int64
	failed   int64
}

var jobBuckets = prometheus.ExponentialBuckets(0.005, 2, 16) // 5 ms to 164 s

func newFrontStats(f *Front) *frontStats {
	s := &frontStats{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flipbench_requests_total", Help: "Requests answered by the front, by HTTP status.",
		}, []string{"code"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flipbench_jobs_total", Help: "Jobs seen ending, by state (done, failed).",
		}, []string{"state"}),
		jobSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flipbench_job_seconds", Help: "Time a worker spent on a job, from its start to its recorded end.", Buckets: jobBuckets,
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flipbench_queue_wait_seconds", Help: "Time from a request's arrival to its job's start on a worker (upload and queue).", Buckets: jobBuckets,
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flipbench_rejected_total", Help: "Requests answered 503 by the front: its queue was full, or it was stopping.",
		}),
	}
	s.reg.MustRegister(s.requests, s.jobs, s.jobSeconds, s.queueWait, s.rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flipbench_queue_length", Help: "This front's jobs that no worker has taken yet.",
		}, func() float64 {
			f.mu.Lock()
			defer f.mu.Unlock()
			return float64(len(f.waiting))
		}),
		&streamCollector{q: f.q},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if f.cfg.Restarts != nil {
		s.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "flipbench_worker_restarts_total", Help: "Local worker processes started again after one exited.",
		}, func() float64 { return float64(f.cfg.Restarts()) }))
	}
	return s
}

func (s *frontStats) handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

// ended records a job's end.
func (s *frontStats) ended(st *JobStatus) {
	s.jobs.WithLabelValues(st.State).Inc()
	if st.Started != nil {
		s.queueWait.Observe(st.QueueMs / 1000)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.State == StateDone {
		s.done++
	} else {
		s.failed++
	}
	if st.Finished == nil || st.Started == nil {
		return
	}
	d := st.Finished.Sub(*st.Started)
	s.jobSeconds.Observe(d.Seconds())
	if !s.reported {
		s.recent, s.reported = d, true
		return
	}
	s.recent += (d - s.recent) / 8 // the last few jobs weigh most
}

func (s *frontStats) reject() {
	s.rejected.Inc()
	s.mu.Lock()
	s.rejects++
	s.mu.Unlock()
}

func (s *frontStats) counts() (rejected, done, failed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejects, s.done, s.failed
}

// recentJob is the recent service time of a job; a second until one is
// seen.
func (s *frontStats) recentJob() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reported {
		return time.Second
	}
	return s.recent
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

type ctxKey int

const receivedKey ctxKey = iota

func receivedAt(r *http.Request) time.Time {
	t, ok := r.Context().Value(receivedKey).(time.Time)
	if !ok {
		return time.Now()
	}
	return t
}

// timed stamps every response with X-Worker-Pid (the front's, unless a
// handler names the worker that flipped) and X-Response-Time, from the
// request reaching the handler to the response headers (unless a handler
// gives the job's own, as a waited-for flip does), and counts it by
// status.
func (f *Front) timed(next http.Handler) http.Handler {
	pid := strconv.Itoa(os.Getpid())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Worker-Pid", pid)
		tw := &server.TimedWriter{ResponseWriter: w, Start: start, OnHeader: func(code int) {
			f.stats.requests.WithLabelValues(strconv.Itoa(code)).Inc()
		}}
		next.ServeHTTP(tw, r.WithContext(context.WithValue(r.Context(), receivedKey, start)))
		tw.Finish()
	})
}
