package loadgen

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/flipbench/flipbench/results"
)

// errInterrupted is the cause given to requests cut short by a cancelled
// run.
var errInterrupted = errors.New("load interrupted")

// connBuffer is the size of each connection's read and write buffers.
const connBuffer = 1 << 10

// keepBody is how much of each response body vegeta's attacker keeps, in
// rate and closed mode. The records do not use the bodies (a failure's
// Error is its status line), and the byte count comes from Content-Length.
const keepBody = 4 << 10

// Run sends the load described by cfg and returns what happened to every
// request. It blocks until every round is done. When ctx is cancelled it
// stops sending, cuts the requests in flight short and returns promptly
// with what it has and Interrupted set. The requests cut short keep their
// records, with Kind "canceled", but are not written to cfg.Results.
// Failed requests are data in the summary, not an error: Run returns an
// error only for an invalid configuration, a machine that cannot open
// enough sockets, a warm-up whose every request failed ([ErrWarmUpFailed])
// or a failed write to cfg.Results. Cancelled during the warm-up, it
// returns a summary of no rounds, Interrupted.
//
// In closed mode the summary's N is the number of requests a round sent
// (the mean over the rounds done, when there are several), and
// Concurrency and Duration say how they were sent.
func Run(ctx context.Context, cfg Config) (*results.Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ensureOpenFiles(max(cfg.planned(), cfg.WarmUp)); err != nil {
		return nil, err
	}
	if cfg.WarmUp > 0 {
		if err := warmUp(ctx, cfg); err != nil {
			return nil, err
		}
	}
	sum := NewSummary(cfg)
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
	Finish(sum, start, ctx.Err() != nil)
	return sum, nil
}

// Finish completes a summary of [NewSummary] whose rounds are in: its
// stats over every round, the requests a closed loop's round sent, its
// wall time since start, and whether it was interrupted.
func Finish(sum *results.Summary, start time.Time, interrupted bool) {
	if sum.Mode == ModeClosed && len(sum.RoundStats) > 0 {
		rounds := len(sum.RoundStats)
		sum.N = (len(sum.Results) + rounds/2) / rounds
	}
	sum.Interrupted = interrupted
	sum.Stats = results.Combine(sum.RoundStats, sum.Results)
	sum.WallMs = results.Ms(time.Since(start))
}

// NewSummary is the summary of a load of cfg before any round: what was
// asked for, and when it began (now). Run fills in its rounds; a load
// spread over agents starts from it too.
func NewSummary(cfg Config) *results.Summary {
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
	switch cfg.Mode() {
	case ModeRate:
		sum.Rate, sum.Duration = cfg.Rate.String(), cfg.Duration.String()
	case ModeClosed:
		sum.Concurrency, sum.Duration = cfg.Concurrency, cfg.Duration.String()
		sum.N = 0 // set by Finish, once known
	}
	// What changes what is measured: kept-alive connections (handshakes,
	// and which cluster worker serves which request) and the headers (a
	// Host picks a virtual host), by name: their values may be secrets.
	sum.KeepAlive = cfg.KeepAlive
	switch cfg.Await {
	case AwaitPoll:
		sum.Await = "polled every " + cfg.pollInterval().String()
	case AwaitEvents:
		sum.Await = "events"
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.header())) {
		if k != "User-Agent" || cfg.Header.Get("User-Agent") != "" {
			sum.Headers = append(sum.Headers, k)
		}
	}
	return sum
}

// runRound runs one burst, rate run or closed loop with a fresh attacker
// and client, so that sequence numbers and offsets start from zero in
// every round and no connection is carried over from the last one.
func runRound(ctx context.Context, cfg Config, round int, enc *resultsEncoder) ([]results.Record, error) {
	plan := planRound(cfg)
	// The requests' context: cancelled with errInterrupted as the cause
	// when ctx is done, so that their errors say why.
	rctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stopCancel := context.AfterFunc(ctx, func() { cancel(errInterrupted) })
	defer stopCancel()
	client := newClient(rctx, cfg, plan.n)
	defer client.CloseIdleConnections() // kept-alive ones must not outlive the round
	tgt := vegeta.Target{
		Method: cfg.method(),
		URL:    cfg.url(),
		Body:   cfg.Body,
		Header: cfg.header(),
	}
	name := "round-" + strconv.Itoa(round)

	var at time.Time // when the round begins: zero, at once
	if round == 1 {
		at = cfg.Start
	}
	var attack <-chan *vegeta.Result
	var roundStart time.Time
	if cfg.Mode() == ModeBurst {
		attack, roundStart = burst(ctx, client, tgt, plan.n, name, at)
	} else {
		waitUntil(ctx, at)
		var release func()
		attack, roundStart, release = startAttacker(ctx, client, tgt, plan, name)
		defer release()
	}
	if cfg.OnStart != nil {
		cfg.OnStart(round, roundStart)
	}
	r := &recorder{cfg: cfg, round: round, n: plan.n, rctx: rctx, roundStart: roundStart, enc: enc,
		done: make(chan results.Record)}
	go r.forward(attack)
	recs := r.collect(plan.total)
	slices.SortFunc(recs, func(a, b results.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	if enc != nil {
		enc.base += uint64(len(recs)) // each round's seqs are 0..len-1
	}
	if r.encErr != nil {
		return nil, fmt.Errorf("write vegeta results: %w", r.encErr)
	}
	return recs, nil
}

// spinFor is how long before an instant [waitUntil] stops sleeping and
// spins: a timer wakes its goroutine up to a millisecond late under load,
// and several machines' bursts are to leave within a millisecond or two.
const spinFor = 2 * time.Millisecond

// waitUntil returns at t by the wall clock (t is another machine's
// instant, carried over as a wall-clock reading), or when ctx is done; at
// once if t is zero or past.
func waitUntil(ctx context.Context, t time.Time) {
	if t.IsZero() {
		return
	}
	t = t.Round(0) // the wall clock, whatever t carries
	if d := time.Until(t) - spinFor; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
	for time.Now().Before(t) && ctx.Err() == nil {
		runtime.Gosched()
	}
}

// roundPlan is how a round sends its requests: what vegeta's attacker is
// given in a rate run or a closed loop, and what progress counts to.
type roundPlan struct {
	n       int           // the requests planned, cfg.planned(): a bound on workers and connections
	pacer   countPacer    // when each request goes, and after how many to stop
	workers uint64        // the attacker's workers at the start
	total   int           // the records a round should have, for Progress; 0 when open-ended
	du      time.Duration // how long the attack lasts; 0: until the pacer stops
}

// planRound picks the pacer and workers for cfg's mode. A burst uses
// neither (it sends by itself), but counts to n as a rate run does.
func planRound(cfg Config) roundPlan {
	n := cfg.planned()
	p := roundPlan{n: n, pacer: countPacer{n: uint64(n)}, total: n}
	switch cfg.Mode() {
	case ModeRate:
		p.pacer.inner = vegeta.ConstantPacer{Freq: cfg.Rate.Freq, Per: cfg.Rate.Per}
		// Open loop: vegeta adds workers whenever all are busy, up to one
		// per request, so a slow server never delays the next arrival.
		p.workers = uint64(min(n, 16))
	case ModeClosed:
		// Closed loop: as many workers as clients, and a pacer that never
		// waits. vegeta's attack loop only adds a worker while it has
		// fewer than MaxWorkers, so with n of n it blocks until a worker
		// is free: each worker is a client sending its next request as
		// soon as its last is answered. The count is open-ended; the
		// duration ends the round.
		p.pacer.n = maxRequests // a bound on memory and sockets, as for the other modes
		p.workers, p.total = uint64(n), 0
		p.du = cfg.Duration
	}
	return p
}

// startAttacker starts vegeta's attacker on tgt as plan says, and returns
// its results, when it started, and release, which the caller must call
// once the round is over. The attacker stops when ctx is done (vegeta's
// Attack takes no context) or when plan's duration has passed.
func startAttacker(ctx context.Context, client *http.Client, tgt vegeta.Target, plan roundPlan, name string) (<-chan *vegeta.Result, time.Time, func()) {
	roundStart := time.Now()
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(plan.workers),
		vegeta.MaxWorkers(uint64(plan.n)),
		vegeta.MaxBody(keepBody),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	release := func() { stop() }
	if plan.du > 0 {
		// vegeta checks the duration only before it waits for a free
		// worker, and a closed loop spends its time waiting there: Stop
		// ends the wait. Requests in flight are not cut short; only a
		// cancelled ctx does that.
		t := time.AfterFunc(plan.du, func() { atk.Stop() })
		release = func() {
			t.Stop()
			stop()
		}
	}
	return atk.Attack(vegeta.NewStaticTargeter(tgt), plan.pacer, plan.du, name), roundStart, release
}

// recorder turns one round's vegeta results into records: forward, in a
// goroutine of its own, sends them on done, and collect gathers them.
type recorder struct {
	cfg        Config
	round      int
	n          int                 // the requests planned: the awaiter's connections
	rctx       context.Context     // the requests' context; the awaited jobs' polls end with it
	roundStart time.Time           // what the records' times count from
	enc        *resultsEncoder     // where the results are written; nil: nowhere
	done       chan results.Record // closed once every record is sent
	encErr     error               // the first failed write; set before done is closed, read after
}

// forward sends a record on done for each of attack's results, and closes
// done when attack is closed and every awaited job has ended. The records
// come as the answers do, or with Await, for a 202, as its job ends: each
// awaited job has a goroutine that polls it.
func (r *recorder) forward(attack <-chan *vegeta.Result) {
	var aw *awaiter
	if r.cfg.Await != "" {
		keep := r.cfg
		keep.KeepAlive = true
		aw = &awaiter{client: newClient(r.rctx, keep, r.n), events: r.cfg.Await == AwaitEvents,
			interval: r.cfg.pollInterval(), timeout: r.cfg.timeout()}
		defer aw.client.CloseIdleConnections()
	}
	var awaiting sync.WaitGroup
	for res := range attack {
		rec := toRecord(res, r.roundStart, r.round)
		if rec.Kind != results.KindCanceled && r.enc != nil && r.encErr == nil {
			// A cancelled request is not a result of the server's: its
			// latency is only how long it ran before the cancel, which
			// `vegeta report` would count.
			r.encErr = r.enc.encode(res)
		}
		if aw != nil && awaitable(res) {
			awaiting.Go(func() { r.done <- aw.await(r.rctx, res, rec) })
			continue
		}
		r.done <- rec
	}
	awaiting.Wait()
	close(r.done)
}

// collect gathers the records from done until forward closes it, in the
// order they come, passing each to cfg.OnResult and reporting progress
// towards total (0: open-ended) to cfg.Progress.
func (r *recorder) collect(total int) []results.Record {
	recs := make([]results.Record, 0, r.n)
	errs, canceled := 0, 0
	for rec := range r.done {
		recs = append(recs, rec)
		if rec.Kind == results.KindCanceled {
			canceled++
		}
		if !rec.OK() && rec.Kind != results.KindCanceled {
			errs++
		}
		if r.cfg.OnResult != nil {
			r.cfg.OnResult(rec)
		}
		if r.cfg.Progress != nil {
			r.cfg.Progress(Progress{Round: r.round, Rounds: r.cfg.rounds(), Done: len(recs), Total: total, Errors: errs, Canceled: canceled})
		}
	}
	return recs
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
	r.Body = nil // what vegeta kept of it: neither flipbench nor vegeta's reports use it
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

// countPacer stops after n hits, paced by inner (a rate run), or at once
// when inner is nil (a closed loop, which the workers pace). Stopping by
// count makes the number of requests exact, whatever the timing.
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

// newClient returns the HTTP client of one round, for at most conns
// requests in flight at once. By default there is no keep-alive, so every
// request is an independent client on a connection of its own (the
// article's script, and what lets a cluster's free worker take each one);
// with cfg.KeepAlive up to conns idle connections are kept for reuse. No
// proxy (the targets are local), no redirects followed, HTTP/1.1 only (a
// Transport with its own dialer and TLS config does not try HTTP/2), and
// every request tied to ctx so an interrupted run does not wait for them.
// cfg must be valid: an invalid CACert was rejected by Validate.
//
// The timeout is the transport's, not the client's: http.Client.Timeout
// over a RoundTripper that is not an *http.Transport falls back to
// Request.Cancel, which costs every request a timer and two goroutines
// more (net/http's setRequestCancel and awaitLegacyCancel).
func newClient(ctx context.Context, cfg Config, conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}
	tlsConf := &tls.Config{InsecureSkipVerify: cfg.Insecure}
	if len(cfg.CACert) > 0 {
		tlsConf.RootCAs, _ = certPool(cfg.CACert)
	}
	ct := ctxTransport{ctx: ctx, timeout: cfg.timeout(), cause: errTimeout(cfg.timeout()), dial: dialer.DialContext, dialFirst: !cfg.KeepAlive}
	tr := &http.Transport{
		DialContext:         ct.dialContext,
		TLSClientConfig:     tlsConf,
		DisableKeepAlives:   !cfg.KeepAlive,
		MaxIdleConnsPerHost: conns, // the default, 2, would close the others' after each answer
		DisableCompression:  true,
		// Per connection, and a burst has one connection per request in
		// flight: the default 4 KiB each way would be 8 KiB of a large
		// burst's memory per request. A request's head and a response's
		// head fit in 1 KiB; longer header lines are still read whole,
		// and bodies larger than the buffer bypass it either way.
		ReadBufferSize:  connBuffer,
		WriteBufferSize: connBuffer,
	}
	ct.base = tr
	return &http.Client{
		Transport:     ct,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ctxTransport gives every request a context of its own under ctx, the
// round's, with a deadline of timeout from when it is sent: the request's
// own context (vegeta builds its requests without one) is replaced. The
// deadline covers the body too; the context ends when the body is closed.
//
// Without keep-alive every request dials a connection of its own, and
// ctxTransport dials it first, in the goroutine that sends the request,
// and hands it to the base transport's DialContext. The transport would
// dial in a goroutine of its own while the sender waits for it: two
// goroutines, two stacks, for every connection not yet accepted, which is
// most of a large burst's memory.
type ctxTransport struct {
	ctx       context.Context
	timeout   time.Duration
	cause     error // errTimeout(timeout), made once
	base      *http.Transport
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	dialFirst bool
}

// dialedKey is the context key of a request's connection, dialed by
// RoundTrip before the base transport asks for one.
type dialedKey struct{}

// dialed is a connection dialed for one request, and the error if that
// failed; the first DialContext for its address takes it.
type dialed struct {
	addr  string
	conn  net.Conn
	err   error
	taken atomic.Bool
}

// take reports whether this is its first call: the caller then owns d's
// connection (or error).
func (d *dialed) take() bool { return d.taken.CompareAndSwap(false, true) }

// dialContext is the base transport's DialContext: it returns the
// connection RoundTrip dialed for the request, or dials one (a retry, or
// a request that RoundTrip did not dial for).
func (t ctxTransport) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d, ok := ctx.Value(dialedKey{}).(*dialed); ok && network == "tcp" && addr == d.addr && d.take() {
		return d.conn, d.err
	}
	return t.dial(ctx, network, addr)
}

// dialAddr is where the base transport dials for u: host and port, the
// scheme's default port when u gives none.
func dialAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// errTimeout is the cause given to a request that took longer than the
// timeout: the transport reports it, and it says "timeout", as ErrorKind
// expects.
type errTimeout time.Duration

func (e errTimeout) Error() string {
	return "request timeout (" + time.Duration(e).String() + ") exceeded"
}

// CloseIdleConnections closes the base transport's kept-alive
// connections; http.Client.CloseIdleConnections calls it.
func (t ctxTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// preconnect returns r carrying a connection dialed for it now, under
// ctx, which RoundTrip hands to the base transport when r is sent. A
// failed dial is carried too, and is r's error when it is sent.
func (t ctxTransport) preconnect(ctx context.Context, r *http.Request) *http.Request {
	d := &dialed{addr: dialAddr(r.URL)}
	d.conn, d.err = t.dial(ctx, "tcp", d.addr)
	return r.WithContext(context.WithValue(r.Context(), dialedKey{}, d))
}

// requestContext bounds a request by the timeout: from now, or for a
// request waiting at a burst's gate, from its release (the burst may
// wait for its slowest connection for up to preconnectWait).
func (t ctxTransport) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	g, _ := r.Context().Value(gateKey{}).(*sendGate)
	if g == nil {
		return context.WithTimeoutCause(t.ctx, t.timeout, t.cause)
	}
	ctx, cancel := context.WithCancelCause(t.ctx)
	var timer atomic.Pointer[time.Timer]
	g.arm = func() { timer.Store(time.AfterFunc(t.timeout, func() { cancel(t.cause) })) }
	return ctx, func() {
		if tm := timer.Load(); tm != nil {
			tm.Stop()
		}
		cancel(context.Canceled)
	}
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rctx, cancel := t.requestContext(r)
	d, _ := r.Context().Value(dialedKey{}).(*dialed) // a burst's, connected before its release
	if d == nil && t.dialFirst {
		d = &dialed{addr: dialAddr(r.URL)}
		d.conn, d.err = t.dial(rctx, "tcp", d.addr)
	}
	if d != nil {
		rctx = context.WithValue(rctx, dialedKey{}, d)
	}
	resp, err := t.base.RoundTrip(r.WithContext(rctx))
	if d != nil && d.take() && d.conn != nil {
		d.conn.Close() // the transport failed before it asked for it
	}
	if err != nil {
		cancel()
		if errors.Is(context.Cause(t.ctx), errInterrupted) && !errors.Is(err, errInterrupted) {
			// Say why, unless the transport already does: it reports the
			// context's cause, errInterrupted.
			return nil, fmt.Errorf("%w: %w", errInterrupted, err)
		}
		return nil, err
	}
	resp.Body = &hookedBody{ReadCloser: resp.Body, done: cancel}
	return resp, nil
}
