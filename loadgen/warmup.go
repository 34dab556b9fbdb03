package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flipbench/flipbench/results"
)

// ErrWarmUpFailed is wrapped by [Run]'s error when every request of the
// warm-up failed.
var ErrWarmUpFailed = errors.New("warm-up failed")

// warmUpError says how the warm-up's requests failed; it is an
// ErrWarmUpFailed.
type warmUpError struct{ msg string }

func (e *warmUpError) Error() string        { return e.msg }
func (e *warmUpError) Is(target error) bool { return target == ErrWarmUpFailed }

// warmUp sends cfg.WarmUp requests together, as one burst of the load,
// and drops what they did; it fails only when every one failed.
func warmUp(ctx context.Context, cfg Config) error {
	w := cfg
	w.Rate, w.Concurrency, w.Duration = Rate{}, 0, 0
	w.Requests, w.Rounds, w.Pause, w.WarmUp = cfg.WarmUp, 1, 0, 0
	w.OnResult, w.Results = nil, nil
	w.Start, w.OnStart = time.Time{}, nil // the rounds' instant, not the warm-up's
	if cfg.Progress != nil {
		w.Progress = func(p Progress) {
			p.WarmUp = true
			cfg.Progress(p)
		}
	}
	sum, err := Run(ctx, w)
	if err != nil {
		return err
	}
	if sum.OK == 0 && !sum.Interrupted {
		return &warmUpError{fmt.Sprintf("warm-up: all %d requests failed (%s)", sum.Requests, results.KindCounts(sum.ErrorsByKind))}
	}
	return nil
}
