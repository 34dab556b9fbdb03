package results

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// LoadSchema names the JSON layout of a [Summary].
const LoadSchema = "flipbench/load/v1"

// Record is one request as the client saw it. Offsets are milliseconds from
// the start of its round.
type Record struct {
	// Round is the round the request belongs to, from 1.
	Round int `json:"round"`
	// Seq is the request's number in its round, from 0, in send order.
	Seq uint64 `json:"seq"`
	// SentMs is when it was sent, LatencyMs how long its answer took and
	// EndMs when the answer was complete (SentMs + LatencyMs).
	SentMs    float64 `json:"sent_ms"`
	LatencyMs float64 `json:"latency_ms"`
	EndMs     float64 `json:"end_ms"`
	// QueueMs is how long the request waited for a worker, as the server
	// reported it (X-Queue-Time); 0 when it did not.
	QueueMs float64 `json:"queue_ms,omitempty"`
	// JobMs is how long the server says it took to answer, from its
	// X-Response-Time header (flipbench's and Koa's): the job itself,
	// without the wait for a worker or the transfer. 0 without one.
	JobMs float64 `json:"job_ms,omitempty"`
	// AcceptMs is, for a job that the server accepted with 202 and the
	// client then awaited (load --await), how long the 202 took; the
	// latency is then until the client saw the job end, and the status
	// and PID are the job's. 0 for any other request.
	AcceptMs float64 `json:"accept_ms,omitempty"`
	// Status is the HTTP status, 0 when no answer came.
	Status int `json:"status"`
	// PID is the X-Worker-Pid header of the answer, 0 without one.
	PID int `json:"pid,omitempty"`
	// Bytes is the size of the answer's body.
	Bytes int64 `json:"bytes"`
	// Error is what went wrong, empty for a 2xx answer.
	Error string `json:"error,omitempty"`
	// Kind classifies Error: refused, dns, tls, reset, timeout, eof, canceled,
	// http_NNN or other (loadgen.ErrorKind).
	Kind string `json:"kind,omitempty"`
	// Source names the file a merged record came from (MergeLoads).
	Source string `json:"source,omitempty"`
}

// OK reports whether the request got a 2xx response.
func (r Record) OK() bool { return r.Error == "" && r.Status >= 200 && r.Status < 300 }

// KindCanceled is the [Record.Kind] of a request cut short because the
// run was interrupted (Ctrl-C): neither a success nor the server's
// failure.
const KindCanceled = "canceled"

// Canceled reports whether the request was cut short by an interrupted
// run. Such a request counts apart: not as an error, and not in any
// latency figure (its "latency" is only how long it ran before Ctrl-C).
func (r Record) Canceled() bool { return r.Kind == KindCanceled }

// Latency is a latency distribution in milliseconds.
type Latency struct {
	// Min, Mean, the 50th, 90th, 95th and 99th percentiles and Max.
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// Quantile is one percentile of a latency distribution.
type Quantile struct {
	// P is the percentile, 0 to 100 (99.9 is the 99.9th).
	P  float64 `json:"p"`
	Ms float64 `json:"ms"`
}

// LatencyPercentiles returns the percentiles ps of the latencies of the
// records that got a response (cancelled ones left out); nil when none
// did.
func LatencyPercentiles(recs []Record, ps []float64) []Quantile {
	var lat []float64
	for _, r := range recs {
		if r.Status != 0 && !r.Canceled() {
			lat = append(lat, r.LatencyMs)
		}
	}
	if len(lat) == 0 {
		return nil
	}
	slices.Sort(lat)
	q := make([]Quantile, len(ps))
	for i, p := range ps {
		q[i] = Quantile{P: p, Ms: round3(Percentile(lat, p))}
	}
	return q
}

// Stats summarizes a set of records.
type Stats struct {
	// Requests is how many were sent; OK got a 2xx, Errors did not,
	// and Canceled were cut short by an interrupted run (neither).
	Requests int `json:"requests"`
	OK       int `json:"ok"`
	Errors   int `json:"errors"`
	Canceled int `json:"canceled,omitempty"`
	// Accepted counts the 202 answers that were not awaited (load
	// without --await): jobs queued by the server, not done; their times
	// are the server's accepts, and no worker is credited with them.
	Accepted int `json:"accepted,omitempty"`
	// FirstMs and LastMs are when the first and the last response arrived,
	// from the round's start: the article's two numbers. Only requests
	// that got a response (of any status) count. Over several rounds they
	// are the medians of the rounds' values.
	FirstMs float64 `json:"first_ms"`
	LastMs  float64 `json:"last_ms"`
	// SendSpreadMs is the time between the first and the last request
	// being sent: near zero for a burst (the largest over several rounds).
	SendSpreadMs float64 `json:"send_spread_ms"`
	// LatencyMs is over the requests that got a response (a cancelled
	// one has none).
	LatencyMs Latency `json:"latency_ms"`
	// WaitMs and ServiceMs split the latency of the requests whose server
	// reported their queueing (X-Queue-Time): the wait for a worker, and
	// the rest. Nil when no response reported it.
	WaitMs    *Latency `json:"wait_ms,omitempty"`
	ServiceMs *Latency `json:"service_ms,omitempty"`
	// AcceptMs is the distribution of the 202s of awaited jobs
	// ([Record.AcceptMs]); nil when there were none.
	AcceptMs *Latency `json:"accept_ms,omitempty"`
	// ThroughputRPS is successful responses per second of the round's
	// wall time (first send to last response), summed time over rounds.
	ThroughputRPS float64 `json:"throughput_rps"`
	// StatusCodes counts responses by HTTP status.
	StatusCodes map[string]int `json:"status_codes"`
	// ErrorsByKind counts failures by kind: refused, dns, tls, reset, timeout,
	// eof, http_NNN, other (cancelled requests are not failures).
	ErrorsByKind map[string]int `json:"errors_by_kind"`
	// RequestsPerWorker counts responses by the X-Worker-Pid that sent
	// them. Load files keep their original key, "workers"; a run file
	// writes it as "requests_per_worker" (see [RoundSide]).
	RequestsPerWorker map[string]int `json:"workers"`

	// ActiveMs is the time from the first request sent to the last response
	// (summed over rounds): the denominator of ThroughputRPS.
	ActiveMs float64 `json:"active_ms"`
}

// RoundSummary is one round's stats.
type RoundSummary struct {
	// Round is the round's number, from 1.
	Round int `json:"round"`
	Stats
}

// Summary is a load run: the result of loadgen.Run, and the load file's
// content.
type Summary struct {
	// Schema is [LoadSchema].
	Schema string `json:"schema"`
	// URL and Method are the target.
	URL    string `json:"url"`
	Method string `json:"method"`
	// Mode is "burst", "rate" or "closed"; N is the requests in a round
	// (planned in a burst or at a rate; sent, in a closed loop).
	Mode string `json:"mode"`
	N    int    `json:"n"`
	// Rate and Duration describe a rate-mode round ("20/s", "30s"),
	// Concurrency and Duration a closed-loop one.
	Rate        string `json:"rate,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	Duration    string `json:"duration,omitempty"`
	// BodyB is the size of the body sent with each request.
	BodyB int `json:"body_bytes"`
	// KeepAlive is set when connections were reused (load --keepalive),
	// and Headers names the headers added to every request (values are
	// left out: they may be credentials).
	KeepAlive bool     `json:"keepalive,omitempty"`
	Headers   []string `json:"headers,omitempty"`
	// Await says how the jobs of 202 answers were awaited (load
	// --await): "polled every 100ms" or "events" (their event streams
	// followed). The latencies then run to when the client saw each job
	// end. Empty otherwise.
	Await string `json:"await,omitempty"`
	// Started is when the run began, RFC 3339.
	Started string `json:"started"`
	// Rounds is the number of rounds asked for; RoundStats has those done.
	Rounds int `json:"rounds_planned"`
	// WallMs is the whole run's duration, pauses included.
	WallMs float64 `json:"wall_ms"`
	// Interrupted is set when the context was cancelled before the end:
	// the summary holds what completed.
	Interrupted bool `json:"interrupted,omitempty"`
	// Stats is over every round (first and last: the rounds' medians).
	Stats
	// Percentiles are the latency percentiles asked for (load
	// --percentiles), over every round; nil means Stats' own.
	Percentiles []Quantile `json:"latency_percentiles,omitempty"`
	// RoundStats is each round's stats; Results every request.
	RoundStats []RoundSummary `json:"rounds"`
	Results    []Record       `json:"results"`
	// Agents is, for a load spread over several machines (load
	// --agents), each agent's part of each round; nil for a load from
	// one process.
	Agents []AgentShare `json:"agents,omitempty"`
	// Incomplete names the rounds that lack part of an agent's share, and
	// why: "round 2: agent b lost (no heartbeat for 3s)". A summary with
	// any is a failed run.
	Incomplete []string `json:"incomplete,omitempty"`
}

// Summarize computes stats over one round's records.
func Summarize(recs []Record) Stats {
	s := Stats{
		Requests:          len(recs),
		StatusCodes:       map[string]int{},
		ErrorsByKind:      map[string]int{},
		RequestsPerWorker: map[string]int{},
	}
	var lat, wait, service, accept []float64
	first, last := math.Inf(1), 0.0
	minSent, maxSent := math.Inf(1), math.Inf(-1)
	for _, r := range recs {
		minSent, maxSent = math.Min(minSent, r.SentMs), math.Max(maxSent, r.SentMs)
		switch {
		case r.Canceled():
			s.Canceled++
			continue // how long it ran before Ctrl-C is no latency
		case r.OK():
			s.OK++
		default:
			s.Errors++
			s.ErrorsByKind[r.Kind]++
		}
		if r.Status == 0 {
			continue // no response at all
		}
		s.StatusCodes[strconv.Itoa(r.Status)]++
		switch {
		case r.Status == 202 && r.AcceptMs == 0: // Accepted
			// A job queued, not done: the front that queued it is no
			// worker, whatever its X-Worker-Pid says.
			s.Accepted++
		case r.PID != 0:
			s.RequestsPerWorker[strconv.Itoa(r.PID)]++
		}
		lat = append(lat, r.LatencyMs)
		if r.AcceptMs > 0 {
			accept = append(accept, r.AcceptMs)
		}
		if r.QueueMs > 0 {
			// The two clocks differ: the service time is never below 0.
			wait, service = append(wait, r.QueueMs), append(service, max(0, r.LatencyMs-r.QueueMs))
		}
		first, last = math.Min(first, r.EndMs), math.Max(last, r.EndMs)
	}
	if len(recs) > 0 {
		s.SendSpreadMs = round3(maxSent - minSent)
	}
	if len(lat) > 0 {
		s.FirstMs, s.LastMs = round3(first), round3(last)
		s.LatencyMs = latency(lat)
	}
	if len(wait) > 0 {
		w, sv := latency(wait), latency(service)
		s.WaitMs, s.ServiceMs = &w, &sv
	}
	if len(accept) > 0 {
		a := latency(accept)
		s.AcceptMs = &a
	}
	for _, r := range recs {
		if !r.Canceled() {
			s.ActiveMs = round3(math.Max(s.ActiveMs, r.EndMs-minSent))
		}
	}
	if s.ActiveMs > 0 {
		s.ThroughputRPS = round3(float64(s.OK) / (s.ActiveMs / 1000))
	}
	return s
}

// Combine merges the rounds' stats: counts add up, latency percentiles
// are over every record, first and last are the rounds' medians.
func Combine(rounds []RoundSummary, all []Record) Stats {
	s := Summarize(all)
	if len(rounds) <= 1 {
		if len(rounds) == 1 {
			return rounds[0].Stats
		}
		return s
	}
	var firsts, lasts []float64
	var wall float64
	s.SendSpreadMs = 0
	for _, r := range rounds {
		if r.Requests-r.Errors-r.Canceled > 0 || r.LastMs > 0 {
			firsts, lasts = append(firsts, r.FirstMs), append(lasts, r.LastMs)
		}
		s.SendSpreadMs = math.Max(s.SendSpreadMs, r.SendSpreadMs)
		wall += r.ActiveMs
	}
	s.FirstMs, s.LastMs = round3(Median(firsts)), round3(Median(lasts))
	s.ThroughputRPS = 0
	if wall > 0 {
		s.ThroughputRPS = round3(float64(s.OK) / (wall / 1000))
	}
	s.ActiveMs = round3(wall)
	return s
}

func latency(v []float64) Latency {
	sorted := slices.Sorted(slices.Values(v))
	var sum float64
	for _, x := range sorted {
		sum += x
	}
	return Latency{
		Min:  round3(sorted[0]),
		Mean: round3(sum / float64(len(sorted))),
		P50:  round3(Percentile(sorted, 50)),
		P90:  round3(Percentile(sorted, 90)),
		P95:  round3(Percentile(sorted, 95)),
		P99:  round3(Percentile(sorted, 99)),
		Max:  round3(sorted[len(sorted)-1]),
	}
}

// Percentile returns the p-th percentile (0-100) of sorted values, with
// linear interpolation between the two nearest ranks (the method numpy
// and most spreadsheets use by default). It returns 0 for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := p / 100 * float64(n-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, n-1)
	if frac := rank - float64(lo); frac > 0 && sorted[hi] != sorted[lo] {
		return sorted[lo] + (sorted[hi]-sorted[lo])*frac
	}
	return sorted[lo] // also keeps +Inf from becoming Inf-Inf = NaN
}

// Median returns the median of v, which it does not modify; 0 for no
// values.
func Median(v []float64) float64 {
	return Percentile(slices.Sorted(slices.Values(v)), 50)
}

// round3 rounds to microseconds (three decimals of a millisecond) so that
// JSON and tables stay readable and stable.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// Ms converts d to milliseconds, rounded to microseconds.
func Ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

// Jain returns Jain's fairness index of the requests each worker
// answered: 1 when all answered as many, 1/n when one answered all.
// workers is how many there were, so that one that answered nothing
// counts; 0 for no requests.
func Jain(perWorker map[string]int, workers int) float64 {
	var sum, squares float64
	for _, n := range perWorker {
		sum += float64(n)
		squares += float64(n) * float64(n)
	}
	n := max(workers, len(perWorker))
	if squares == 0 || n == 0 {
		return 0
	}
	return round3(sum * sum / (float64(n) * squares))
}
