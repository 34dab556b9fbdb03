package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// Loader fires load at a server under test and records every request:
// [LocalLoader], loadgen in this process, unless a bench is given another
// (load agents on other machines, which fire shares of the same load and
// merge their records, fit here).
type Loader interface {
	Load(ctx context.Context, cfg loadgen.Config) (*results.Summary, error)
}

// LoaderFunc makes a function a [Loader].
type LoaderFunc func(ctx context.Context, cfg loadgen.Config) (*results.Summary, error)

// Load calls f.
func (f LoaderFunc) Load(ctx context.Context, cfg loadgen.Config) (*results.Summary, error) {
	return f(ctx, cfg)
}

// LocalLoader fires load from this process ([loadgen.Run]).
var LocalLoader Loader = LoaderFunc(loadgen.Run)

// Measurement is what a bench does to an arm in a measure step of its
// schedule, and how it warms the arm up first: one burst of N requests
// ([Burst], the article's experiment) unless a bench is given another (a
// search for the highest rate an arm serves within an SLO fits here).
type Measurement interface {
	// WarmUp sends target's server a load that is not kept, so that the
	// first measured round does not pay for cold caches.
	WarmUp(ctx context.Context, target Target) error
	// Measure measures target's server once and returns its side of the
	// round: every request it sent (Arm, CPU and the rounds' numbers are
	// the bench's to set). A measurement cut short by ctx returns
	// interrupted true, and is not kept.
	Measure(ctx context.Context, target Target) (side results.RoundSide, interrupted bool, err error)
}

// Target is an arm whose server runs, as a [Measurement] sees it.
type Target struct {
	// Arm is the arm; URL the full URL its server serves.
	Arm results.ArmSpec
	URL string
	// Label names the measurement in progress reports: "cluster 3/6",
	// "warm-up standard".
	Label string

	loader   Loader
	progress func(label string, p loadgen.Progress)
}

// Load fires cfg at the target through the bench's loader: the target's
// URL, progress reports under its label, and, for a queue that answers
// 202 at once, each job awaited on its event stream, so that the last
// response is the last job's end, like the other arms' (the stream tells
// of each end as it happens; polling would see it up to an interval
// late).
func (t Target) Load(ctx context.Context, cfg loadgen.Config) (*results.Summary, error) {
	cfg.URL = t.URL
	if t.Arm.Reply == ReplyAsync {
		cfg.Await = loadgen.AwaitEvents
	}
	if t.progress != nil {
		cfg.Progress = func(p loadgen.Progress) { t.progress(t.Label, p) }
	}
	return t.loader.Load(ctx, cfg)
}

// Burst is the article's measurement: Requests requests released
// together, each on a connection of its own. It warms an arm up with one
// request a worker (at most Requests).
type Burst struct {
	// Requests is the burst's size. Zero means loadgen.DefaultRequests.
	Requests int
	// Timeout bounds each request. Zero means loadgen.DefaultTimeout.
	Timeout time.Duration
}

var _ Measurement = Burst{}

// WarmUp sends one request a worker, together.
func (b Burst) WarmUp(ctx context.Context, t Target) error {
	size := min(cmp.Or(b.Requests, loadgen.DefaultRequests), t.Arm.Workers)
	_, err := t.Load(ctx, loadgen.Config{Requests: size, Timeout: b.Timeout})
	return err
}

// Measure sends the burst.
func (b Burst) Measure(ctx context.Context, t Target) (results.RoundSide, bool, error) {
	sum, err := t.Load(ctx, loadgen.Config{Requests: cmp.Or(b.Requests, loadgen.DefaultRequests), Timeout: b.Timeout})
	if err != nil || sum.Interrupted {
		return results.RoundSide{}, err == nil, err
	}
	if len(sum.Incomplete) > 0 {
		// A burst of which an agent's part is missing is not the
		// burst asked for: it would measure fewer requests.
		return results.RoundSide{}, false, fmt.Errorf("%w: %s", ErrIncomplete, strings.Join(sum.Incomplete, "; "))
	}
	return results.RoundSide{Results: sum.Results, Agents: sum.Agents}, false, nil
}

// ErrIncomplete means a load spread over agents came back without the
// part of an agent (lost, or silent past its time).
var ErrIncomplete = errors.New("the load came back incomplete")
