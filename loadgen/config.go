package loadgen

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
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

// Config describes the load.
type Config struct {
	// URL is the target. Empty means [DefaultURL].
	URL string
	// Method is the HTTP method. Empty means [DefaultMethod].
	Method string
	// Body is sent with every request. Nil sends none, like the article's
	// script, and the flip server flips its own image.
	Body []byte
	// Requests is the burst size: this many requests are released together
	// in every round. Zero means [DefaultRequests]. Ignored in rate mode.
	Requests int
	// Rate switches to rate mode: requests at this constant rate for
	// Duration, open loop. Zero means burst mode.
	Rate Rate
	// Duration is how long a rate-mode round lasts; it must be set with
	// Rate and must not be set without it.
	Duration time.Duration
	// Rounds is how many times the burst (or the rate run) is repeated.
	// Zero means one.
	Rounds int
	// Pause is the wait between rounds.
	Pause time.Duration
	// Timeout bounds each request, response body included. Zero means
	// [DefaultTimeout].
	Timeout time.Duration
	// OnResult, if set, is called with each request's record as it
	// completes, from one goroutine at a time.
	OnResult func(results.Record)
	// Progress, if set, is called after each completed request with the
	// counts so far, from one goroutine at a time.
	Progress func(Progress)
	// Results, if set, receives every request in vegeta's own binary
	// encoding, as `vegeta attack` writes it, so that `vegeta report` and
	// `vegeta plot` read it. Sequence numbers run from 0 across rounds,
	// without gaps.
	Results io.Writer
}

// Progress is how far a run has got.
type Progress struct {
	Round, Rounds int // the current round, from 1
	Done, Total   int // requests completed and planned in this round
	Errors        int // failed requests so far in this round
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
	case c.Rounds < 0:
		return fmt.Errorf("rounds must be > 0, got %d", c.Rounds)
	case c.Pause < 0:
		return fmt.Errorf("pause must be >= 0, got %s", c.Pause)
	case c.Timeout < 0:
		return fmt.Errorf("timeout must be > 0, got %s", c.Timeout)
	case c.Rate.Freq < 0 || (!c.Rate.IsZero() && c.Rate.Per <= 0):
		return fmt.Errorf("rate must be positive, got %s", c.Rate)
	case !c.Rate.IsZero() && c.Duration <= 0:
		return errors.New("rate mode needs a duration > 0")
	case c.Rate.IsZero() && c.Duration != 0:
		return errors.New("duration needs a rate (burst mode sends a fixed number of requests)")
	case !c.Rate.IsZero() && c.planned() > maxRequests:
		return fmt.Errorf("rate x duration is %d requests a round, over the limit of %d", c.planned(), maxRequests)
	}
	return nil
}

// Mode is "burst" or "rate".
func (c Config) Mode() string {
	if c.Rate.IsZero() {
		return "burst"
	}
	return "rate"
}

func (c Config) url() string            { return cmp.Or(c.URL, DefaultURL) }
func (c Config) method() string         { return cmp.Or(c.Method, DefaultMethod) }
func (c Config) rounds() int            { return max(c.Rounds, 1) }
func (c Config) timeout() time.Duration { return cmp.Or(c.Timeout, DefaultTimeout) }

// planned is the number of requests in one round.
func (c Config) planned() int {
	if c.Rate.IsZero() {
		return cmp.Or(c.Requests, DefaultRequests)
	}
	return int(float64(c.Rate.Freq) * float64(c.Duration) / float64(c.Rate.Per))
}
