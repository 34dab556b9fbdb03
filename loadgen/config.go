package loadgen

import (
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flipbench/flipbench/results"
)

// Defaults for the zero values of [Config].
const (
	// DefaultURL is where `flipbench standard` and `cluster` listen.
	DefaultURL = "http://127.0.0.1:3000/flip"
	// DefaultRequests is the burst size of the article's script.
	DefaultRequests = 10
	// DefaultTimeout bounds one request. It is generous: in the article the
	// last of 10 concurrent flips on one worker took 40 s.
	DefaultTimeout = 2 * time.Minute
	// DefaultMethod is the flip server's job method.
	DefaultMethod = "POST"
	// DefaultUserAgent is the User-Agent of every request, unless
	// [Config.Header] gives one.
	DefaultUserAgent = "flipbench"
)

// The modes of a run, as [Config.Mode] and results.Summary.Mode name them.
const (
	// ModeBurst releases a fixed number of requests together.
	ModeBurst = "burst"
	// ModeRate sends requests at a constant rate for a duration (open loop).
	ModeRate = "rate"
	// ModeClosed keeps a fixed number of clients busy for a duration,
	// each sending its next request when the last is answered (closed loop).
	ModeClosed = "closed"
)

// Rate is a constant request rate: Freq requests every Per.
type Rate struct {
	Freq int
	Per  time.Duration
}

// IsZero reports whether r is unset (burst mode).
func (r Rate) IsZero() bool { return r.Freq == 0 }

// PerSecond is the rate in requests per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}

// RateOf is a rate of r requests a second, fractions kept: rates
// count whole requests, so it counts them a thousand seconds.
func RateOf(r float64) Rate {
	return Rate{Freq: int(math.Round(r * 1000)), Per: 1000 * time.Second}
}

// String formats the rate as ParseRate reads it: "20/s".
func (r Rate) String() string {
	if r.IsZero() {
		return ""
	}
	unit := map[time.Duration]string{time.Second: "s", time.Millisecond: "ms", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		unit = r.Per.String()
	}
	return fmt.Sprintf("%d/%s", r.Freq, unit)
}

// ParseRate parses a rate like "20/s", "500/1m" or "20" (per second).
func ParseRate(s string) (Rate, error) {
	num, per, found := strings.Cut(strings.TrimSpace(s), "/")
	freq, err := strconv.Atoi(num)
	if err != nil || freq <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want a positive count like 20/s", s)
	}
	r := Rate{Freq: freq, Per: time.Second}
	if !found {
		return r, nil
	}
	switch per {
	case "s":
	case "ms":
		r.Per = time.Millisecond
	case "m":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		if per == "" {
			return Rate{}, fmt.Errorf("rate %q: want a unit like /s, /m or /500ms", s)
		}
		if !strings.ContainsAny(per[:1], "0123456789") {
			per = "1" + per
		}
		d, err := time.ParseDuration(per)
		if err != nil || d <= 0 {
			return Rate{}, fmt.Errorf("rate %q: want a unit like /s, /m or /500ms", s)
		}
		r.Per = d
	}
	return r, nil
}

// Config describes the load. There are three modes (see [Config.Mode]):
// a burst (the default), a rate (Rate and Duration) and a closed loop
// (Concurrency and Duration).
type Config struct {
	// URL is the target. Empty means [DefaultURL].
	URL string
	// Method is the HTTP method. Empty means [DefaultMethod].
	Method string
	// Body is sent with every request. Nil sends none, like the article's
	// script, and the flip server flips its own image.
	Body []byte
	// Header is added to every request, after the default User-Agent
	// ([DefaultUserAgent]), which a User-Agent entry replaces. A Host
	// entry sets the request's Host (the Host header sent and the name
	// used for TLS verification), not an extra header. Names are matched
	// in their canonical form ("x-token" is "X-Token"). Nil adds nothing.
	Header http.Header
	// Requests is the burst size: this many requests are released together
	// in every round. Zero means [DefaultRequests]. Ignored in rate mode;
	// must be zero in closed mode.
	Requests int
	// Rate switches to rate mode: requests at this constant rate for
	// Duration, open loop. Zero means burst mode, or closed mode with
	// Concurrency.
	Rate Rate
	// Concurrency switches to closed mode: exactly this many clients,
	// each sending its next request as soon as its last one is answered,
	// until Duration has elapsed (hey's -c with -z). The requests in flight
	// at the end complete and count. How many requests are sent depends on
	// the server: a slow server slows the load down, unlike in rate mode.
	// A round stops at 100,000 requests all the same, to bound memory.
	// It must not be set with Rate or Requests. Zero means another mode.
	Concurrency int
	// Duration is how long a rate-mode or closed-mode round sends
	// requests; it must be set with Rate or Concurrency and must not be
	// set without one of them.
	Duration time.Duration
	// Rounds is how many times the burst (or the rate run, or the closed
	// loop) is repeated. Zero means one.
	Rounds int
	// Pause is the wait between rounds.
	Pause time.Duration
	// WarmUp is how many requests are sent together before the first
	// round and left out of everything (the summary, OnResult, Results):
	// the first requests to a fresh server pay for its caches and its
	// connections. Progress is told of them with its WarmUp set. Run
	// fails, with [ErrWarmUpFailed], if every one of them failed: the
	// rounds would measure a server that does not answer. Zero means none.
	WarmUp int
	// Timeout bounds each request, response body included. Zero means
	// [DefaultTimeout].
	Timeout time.Duration
	// KeepAlive reuses connections between the requests of a round. The
	// default (false) opens a connection per request and closes it after
	// the answer: every request is an independent client, as in the
	// article's script. A burst opens a connection per request either way
	// (they are all in flight at once), so KeepAlive changes rate and
	// closed runs, which then pay for far fewer handshakes (TCP, and TLS
	// for https targets).
	//
	// For a cluster it also changes who serves what. Under the free and rr
	// dispatch policies the supervisor hands a whole connection to one
	// worker, so a kept-alive client sticks to the worker that got its
	// first request: the dispatch policy acts per connection, not per
	// request. Under reuseport the kernel likewise picks the worker when
	// the connection is made, once per connection.
	KeepAlive bool
	// Await waits for the jobs of a server that answers 202 Accepted
	// with a Location (flipbench queue --reply async), until each is done
	// or failed: [AwaitPoll] asks the location (GET, every PollInterval),
	// [AwaitEvents] follows its event stream (GET location/events,
	// Server-Sent Events, flipbench queue's), which tells of the end as
	// it happens. Both use kept-alive connections of their own. The
	// request's record then says when the client saw the job end: its
	// latency and end run to then, its status, PID, queue and service
	// times are the job's (from its record), and AcceptMs is the 202's
	// latency; a round ends when its jobs have. Empty: a 202 is a
	// success like any 2xx, and its latency the acceptance.
	//
	// The load itself does not wait: a burst is released at once, a rate
	// keeps its clock, and a closed loop's clients send their next
	// request when the 202 comes. Results (vegeta's encoding) holds the
	// 202s, as vegeta measured them.
	Await string
	// PollInterval is the time between two polls of a job awaited with
	// AwaitPoll. Zero means [DefaultPollInterval].
	PollInterval time.Duration
	// Insecure skips the verification of an https target's certificate.
	Insecure bool
	// CACert holds PEM certificates that an https target's certificate
	// must chain to. They replace the system's roots, as vegeta's
	// -root-certs does. Nil (or empty) means the system's roots.
	CACert []byte
	// OnResult, if set, is called with each request's record as it
	// completes, from one goroutine at a time. A request cut short by a
	// cancelled ctx comes with Kind "canceled".
	OnResult func(results.Record)
	// Progress, if set, is called after each completed request with the
	// counts so far, from one goroutine at a time.
	Progress func(Progress)
	// Results, if set, receives the requests in vegeta's own binary
	// encoding, as `vegeta attack` writes it, so that `vegeta report` and
	// `vegeta plot` read it. Sequence numbers run from 0 across rounds.
	// Requests cut short by a cancelled ctx are left out (vegeta would
	// count how long they ran before the cancel as their latency), so
	// their sequence numbers are missing; every other request is there.
	Results io.Writer
	// Start is when the first round begins, by this machine's clock: a
	// burst's connections are opened and its requests set up before, and
	// released at Start; a rate run's or a closed loop's first request
	// goes at Start. A load agent is given the instant its coordinator
	// picked, in its own clock, so that every agent's share goes at once.
	// Later rounds follow the first after Pause, as without it. A Start
	// already past, or zero, means as soon as the round is ready.
	Start time.Time
	// OnStart, if set, is called with each round's number and the time it
	// began: a burst's release, or a rate run's or closed loop's first
	// send. The records' offsets count from it.
	OnStart func(round int, at time.Time)
}

// Progress is how far a run has got.
type Progress struct {
	Round, Rounds int // the current round, from 1
	// Done is the requests completed in this round, and Total those
	// planned. Total is 0 in closed mode, where the count is not known
	// in advance: it depends on how fast the server answers.
	Done, Total int
	// Errors is the failed requests so far in this round, and Canceled
	// those cut short by a cancelled ctx (not failures, and not in Errors).
	Errors   int
	Canceled int
	// WarmUp marks the requests of the warm-up ([Config.WarmUp]), which
	// are not kept.
	WarmUp bool
}

// maxRequests bounds one round, to keep a typo from opening a million
// sockets.
const maxRequests = 100_000

// Validate checks the configuration.
func (c Config) Validate() error {
	u, err := url.Parse(c.url())
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("url %q: want http://HOST:PORT/PATH", c.url())
	}
	switch {
	case c.Requests < 0:
		return fmt.Errorf("requests must be > 0, got %d", c.Requests)
	case c.Requests > maxRequests:
		return fmt.Errorf("requests must be <= %d, got %d", maxRequests, c.Requests)
	case c.Concurrency < 0:
		return fmt.Errorf("concurrency must be > 0, got %d", c.Concurrency)
	case c.Concurrency > maxRequests:
		return fmt.Errorf("concurrency must be <= %d, got %d", maxRequests, c.Concurrency)
	case c.Concurrency > 0 && !c.Rate.IsZero():
		return errors.New("rate and concurrency: give one (a rate is an open loop, a concurrency a closed one)")
	case c.Concurrency > 0 && c.Requests != 0:
		return errors.New("requests and concurrency: give one")
	case c.Concurrency > 0 && c.Duration <= 0:
		return errors.New("concurrency needs a duration > 0")
	case c.Rounds < 0:
		return fmt.Errorf("rounds must be > 0, got %d", c.Rounds)
	case c.Pause < 0:
		return fmt.Errorf("pause must be >= 0, got %s", c.Pause)
	case c.WarmUp < 0 || c.WarmUp > maxRequests:
		return fmt.Errorf("warm-up must be between 0 and %d, got %d", maxRequests, c.WarmUp)
	case c.Timeout < 0:
		return fmt.Errorf("timeout must be > 0, got %s", c.Timeout)
	case c.PollInterval < 0:
		return fmt.Errorf("poll interval must be > 0, got %s", c.PollInterval)
	case c.Await != "" && c.Await != AwaitPoll && c.Await != AwaitEvents:
		return fmt.Errorf("await must be %s or %s, got %q", AwaitPoll, AwaitEvents, c.Await)
	case c.PollInterval > 0 && c.Await != AwaitPoll:
		return errors.New("a poll interval needs await by polling: only polled jobs have one")
	case c.Rate.Freq < 0 || (!c.Rate.IsZero() && c.Rate.Per <= 0):
		return fmt.Errorf("rate must be positive, got %s", c.Rate)
	case !c.Rate.IsZero() && c.Duration <= 0:
		return errors.New("rate mode needs a duration > 0")
	case c.Rate.IsZero() && c.Concurrency == 0 && c.Duration != 0:
		return errors.New("duration needs a rate or a concurrency (burst mode sends a fixed number of requests)")
	case !c.Rate.IsZero() && c.planned() > maxRequests:
		return fmt.Errorf("rate x duration is %d requests a round, over the limit of %d", c.planned(), maxRequests)
	}
	if err := validateHeader(c.Header); err != nil {
		return err
	}
	if len(c.CACert) > 0 {
		if _, err := certPool(c.CACert); err != nil {
			return err
		}
	}
	return nil
}

// Mode is [ModeBurst], [ModeRate] or [ModeClosed]: closed when Concurrency
// is set, rate when Rate is, burst otherwise.
func (c Config) Mode() string {
	switch {
	case c.Concurrency > 0:
		return ModeClosed
	case !c.Rate.IsZero():
		return ModeRate
	}
	return ModeBurst
}

func (c Config) url() string            { return cmp.Or(c.URL, DefaultURL) }
func (c Config) method() string         { return cmp.Or(c.Method, DefaultMethod) }
func (c Config) rounds() int            { return max(c.Rounds, 1) }
func (c Config) timeout() time.Duration { return cmp.Or(c.Timeout, DefaultTimeout) }
func (c Config) pollInterval() time.Duration {
	return cmp.Or(c.PollInterval, DefaultPollInterval)
}

// planned is the number of requests in one round, or in closed mode the
// number of clients: at most this many are in flight at once.
func (c Config) planned() int {
	switch c.Mode() {
	case ModeClosed:
		return c.Concurrency
	case ModeRate:
		return int(float64(c.Rate.Freq) * float64(c.Duration) / float64(c.Rate.Per))
	}
	return cmp.Or(c.Requests, DefaultRequests)
}

// header is what every request carries: the default User-Agent, then
// c.Header under canonical names, so that vegeta's Target.Request, which
// looks the Host entry up with Get, finds it whatever its spelling.
func (c Config) header() http.Header {
	h := http.Header{}
	for _, k := range slices.Sorted(maps.Keys(c.Header)) {
		ck := http.CanonicalHeaderKey(k)
		h[ck] = append(h[ck], c.Header[k]...)
	}
	if len(h["User-Agent"]) == 0 {
		h["User-Agent"] = []string{DefaultUserAgent}
	}
	return h
}

// validateHeader checks that h would be sent as given: Go's client fails
// every request with an invalid name or value.
func validateHeader(h http.Header) error {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if k == "" {
			return errors.New("header: empty name")
		}
		for _, r := range k {
			if !isTokenChar(r) {
				return fmt.Errorf("header %q: invalid character %q in the name", k, r)
			}
		}
		for _, v := range h[k] {
			for _, r := range v {
				if r < ' ' && r != '\t' || r == 0x7f {
					return fmt.Errorf("header %q: control character %q in the value", k, r)
				}
			}
		}
	}
	return nil
}

// isTokenChar reports whether r may appear in a header name (RFC 9110
// section 5.6.2, tchar).
func isTokenChar(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// certPool parses PEM certificates into a pool of their own.
func certPool(pemCerts []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := pemCerts; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca cert: certificate %d: %w", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("ca cert: no PEM certificate found")
	}
	return pool, nil
}
