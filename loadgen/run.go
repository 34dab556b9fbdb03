package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/flipbench/flipbench/results"
)

// errInterrupted is the cause given to requests cut short by a cancelled
// run.
var errInterrupted = errors.New("load interrupted")

// keepBody is how much of each response body is kept, for error messages.
const keepBody = 4 << 10

// Run sends the load described by cfg and returns what happened to every
// request. It blocks until every round is done. When ctx is cancelled it
// stops sending, cuts the requests in flight short (they count as
// "canceled") and returns promptly with what it has and Interrupted set.
// Failed requests are data in the summary, not an error: Run returns an
// error only for an invalid configuration or a machine that cannot open
// enough sockets.
func Run(ctx context.Context, cfg Config) (*results.Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ensureOpenFiles(cfg.planned()); err != nil {
		return nil, err
	}
	sum := &results.Summary{
		Schema:  results.LoadSchema,
		URL:     cfg.url(),
		Method:  cfg.method(),
		Mode:    cfg.Mode(),
		N:       cfg.planned(),
		BodyB:   len(cfg.Body),
		Started: time.Now().UTC().Format(time.RFC3339),
		Rounds:  cfg.rounds(),
	}
	if !cfg.Rate.IsZero() {
		sum.Rate, sum.Duration = cfg.Rate.String(), cfg.Duration.String()
	}
	var enc *resultsEncoder
	if cfg.Results != nil {
		enc = &resultsEncoder{enc: vegeta.NewEncoder(cfg.Results)}
	}
	start := time.Now()
	for round := 1; round <= cfg.rounds(); round++ {
		if round > 1 && cfg.Pause > 0 {
			t := time.NewTimer(cfg.Pause)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			break
		}
		recs, err := runRound(ctx, cfg, round, enc)
		if err != nil {
			return nil, err
		}
		sum.Results = append(sum.Results, recs...)
		sum.RoundStats = append(sum.RoundStats, results.RoundSummary{Round: round, Stats: results.Summarize(recs)})
	}
	sum.Interrupted = ctx.Err() != nil
	sum.Stats = results.Combine(sum.RoundStats, sum.Results)
	sum.WallMs = results.Ms(time.Since(start))
	return sum, nil
}

// runRound runs one burst or one rate run with a fresh attacker, so that
// sequence numbers and offsets start from zero in every round.
func runRound(ctx context.Context, cfg Config, round int, enc *resultsEncoder) ([]results.Record, error) {
	n := cfg.planned()
	pacer := countPacer{n: uint64(n)}
	workers := uint64(n) // burst: one client per request, all waiting
	if !cfg.Rate.IsZero() {
		pacer.inner = vegeta.ConstantPacer{Freq: cfg.Rate.Freq, Per: cfg.Rate.Per}
		// Open loop: vegeta adds workers whenever all are busy, up to one
		// per request, so a slow server never delays the next arrival.
		workers = uint64(min(n, 16))
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(newClient(ctx, cfg.timeout())),
		vegeta.Workers(workers),
		vegeta.MaxWorkers(uint64(n)),
		vegeta.MaxBody(keepBody),
	)
	target := vegeta.NewStaticTargeter(vegeta.Target{
		Method: cfg.method(),
		URL:    cfg.url(),
		Body:   cfg.Body,
		Header: http.Header{"User-Agent": {"flipbench"}},
	})
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	roundStart := time.Now()
	recs := make([]results.Record, 0, n)
	errs := 0
	var encErr error
	for res := range atk.Attack(target, pacer, 0, "round-"+strconv.Itoa(round)) {
		rec := toRecord(res, roundStart, round)
		if enc != nil && encErr == nil {
			encErr = enc.encode(res)
		}
		recs = append(recs, rec)
		if !rec.OK() {
			errs++
		}
		if cfg.OnResult != nil {
			cfg.OnResult(rec)
		}
		if cfg.Progress != nil {
			cfg.Progress(Progress{Round: round, Rounds: cfg.rounds(), Done: len(recs), Total: n, Errors: errs})
		}
	}
	slices.SortFunc(recs, func(a, b results.Record) int { return int(a.Seq) - int(b.Seq) })
	if enc != nil {
		enc.base += uint64(len(recs)) // each round's seqs are 0..len-1
	}
	if encErr != nil {
		return nil, fmt.Errorf("write vegeta results: %w", encErr)
	}
	return recs, nil
}

// resultsEncoder writes vegeta results with sequence numbers that run on
// across rounds: every round has an attacker of its own, numbering from 0.
type resultsEncoder struct {
	enc  vegeta.Encoder
	base uint64
}

func (e *resultsEncoder) encode(res *vegeta.Result) error {
	r := *res
	r.Seq += e.base
	r.Body = nil // kept only for flipbench's error messages
	return e.enc.Encode(&r)
}

func toRecord(res *vegeta.Result, roundStart time.Time, round int) results.Record {
	sent := res.Timestamp.Sub(roundStart)
	rec := results.Record{
		Round:     round,
		Seq:       res.Seq,
		SentMs:    results.Ms(sent),
		LatencyMs: results.Ms(res.Latency),
		EndMs:     results.Ms(sent + res.Latency),
		Status:    int(res.Code),
		Bytes:     int64(res.BytesIn),
		Error:     res.Error,
	}
	if pid, err := strconv.Atoi(res.Headers.Get("X-Worker-Pid")); err == nil {
		rec.PID = pid
	}
	rec.QueueMs = headerMs(res.Headers, "X-Queue-Time")
	rec.JobMs = headerMs(res.Headers, "X-Response-Time")
	// vegeta keeps at most keepBody bytes; the header has the real size.
	if cl, err := strconv.ParseInt(res.Headers.Get("Content-Length"), 10, 64); err == nil {
		rec.Bytes = cl
	}
	rec.Kind = ErrorKind(rec.Status, rec.Error)
	return rec
}

// headerMs reads a time header in milliseconds, "12.3ms" (flipbench,
// Koa), as a count of milliseconds; 0 when absent or unreadable.
func headerMs(h http.Header, name string) float64 {
	v, ok := strings.CutSuffix(strings.TrimSpace(h.Get(name)), "ms")
	if !ok {
		return 0
	}
	ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || ms < 0 || math.IsInf(ms, 0) || math.IsNaN(ms) {
		return 0
	}
	return ms
}

// countPacer stops after n hits: a burst sends all n at once (inner is
// nil), a rate run paces them with inner. Stopping by count makes the
// number of requests exact, whatever the timing.
type countPacer struct {
	inner vegeta.Pacer
	n     uint64
}

func (p countPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.n {
		return 0, true
	}
	if p.inner == nil {
		return 0, false
	}
	return p.inner.Pace(elapsed, hits)
}

func (p countPacer) Rate(elapsed time.Duration) float64 {
	if p.inner == nil {
		return math.Inf(1)
	}
	return p.inner.Rate(elapsed)
}

var _ vegeta.Pacer = countPacer{}

// newClient returns the HTTP client of one round: no keep-alive, so every
// request is an independent client on a connection of its own (the
// article's script, and what lets a cluster's free worker take each one),
// no proxy (the targets are local), no redirects followed, and every
// request tied to ctx so an interrupted run does not wait for them.
func newClient(ctx context.Context, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}
	tr := &http.Transport{
		DialContext:        dialer.DialContext,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     ctxTransport{ctx: ctx, base: tr},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ctxTransport cancels requests when the run's context is done. vegeta
// builds its requests without a context, and http.Client.Timeout already
// set one on the request, so it is extended rather than replaced.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rctx, cancel := context.WithCancelCause(r.Context())
	stop := context.AfterFunc(t.ctx, func() { cancel(errInterrupted) })
	resp, err := t.base.RoundTrip(r.WithContext(rctx))
	if err != nil {
		stop()
		cancel(nil)
		if t.ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", errInterrupted, err)
		}
		return nil, err
	}
	resp.Body = &hookedBody{ReadCloser: resp.Body, done: func() { stop(); cancel(nil) }}
	return resp, nil
}
