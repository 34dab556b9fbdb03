package results

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// ErrMalformedRun is wrapped by [Run.Validate] for a run whose arms and
// rounds do not fit together.
var ErrMalformedRun = errors.New("malformed run")

// Validate checks the run's shape: arm names unique, a standard arm
// first and at least one cluster or queue arm, each one's baseline a
// standard arm, and every round holding every arm, in the arms' order.
func (r *Run) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrMalformedRun)
	}
	if len(r.Arms) < 2 || r.Arms[0].Mode != Standard || r.Primary() == nil {
		return bad("want a standard arm first and at least one cluster or queue arm, got %d arms", len(r.Arms))
	}
	seen := map[string]bool{}
	for _, a := range r.Arms {
		switch {
		case a.Name == "" || seen[a.Name]:
			return bad("arm name %q empty or repeated", a.Name)
		case a.Mode != Standard && !Scaled(a.Mode):
			return bad("arm %s: mode %q", a.Name, a.Mode)
		case a.Workers < 1:
			return bad("arm %s: %d workers", a.Name, a.Workers)
		case Scaled(a.Mode) && (r.Arm(a.Baseline) == nil || r.Arm(a.Baseline).Mode != Standard):
			return bad("arm %s: baseline %q is not a standard arm", a.Name, a.Baseline)
		case Scaled(a.Mode) && r.Arm(a.Baseline).Build != a.Build:
			return bad("arm %s of build %q: baseline %s is of build %q", a.Name, a.Build, a.Baseline, r.Arm(a.Baseline).Build)
		}
		seen[a.Name] = true
	}
	if err := r.validateSearches(); err != nil {
		return bad("%v", err)
	}
	for _, rd := range r.Rounds {
		if len(rd.Arms) != len(r.Arms) {
			return bad("round %d has %d arms, the run %d", rd.Round, len(rd.Arms), len(r.Arms))
		}
		for i := range rd.Arms {
			if rd.Arms[i].Arm != r.Arms[i].Name {
				return bad("round %d: arm %d is %q, want %q", rd.Round, i+1, rd.Arms[i].Arm, r.Arms[i].Name)
			}
		}
	}
	return nil
}

// validateSearches checks a capacity run: its SLOs readable, no rounds,
// one search at most per arm, each step at a positive rate.
func (r *Run) validateSearches() error {
	if !r.Capacity() {
		if len(r.Searches) > 0 {
			return errors.New("capacity searches without SLOs")
		}
		return nil
	}
	if _, err := ParseSLOs(r.Config.SLOs); err != nil {
		return err
	}
	if len(r.Rounds) > 0 {
		return errors.New("a capacity run with rounds of bursts")
	}
	seen := map[string]bool{}
	for _, s := range r.Searches {
		if r.Arm(s.Arm) == nil || seen[s.Arm] {
			return fmt.Errorf("capacity search of arm %q: not an arm of the run, or searched twice", s.Arm)
		}
		seen[s.Arm] = true
		for i, st := range s.Steps {
			if !(st.Rate > 0) || math.IsInf(st.Rate, 0) {
				return fmt.Errorf("capacity search of %s: step %d at rate %v", s.Arm, i+1, st.Rate)
			}
		}
	}
	return nil
}

// ErrInconsistentRun is wrapped by [ParseRun] for a file whose stored
// figures disagree with its requests, or whose requests hold times no
// clock gives: such a file was edited, or written by something else.
var ErrInconsistentRun = errors.New("figures disagree with the requests")

// checkStored compares the figures a file stored with those derived
// from its requests, and checks that every request's times are
// finite and not negative. Call it after Derive.
func (r *Run) checkStored() error {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-3+1e-6*math.Abs(b) }
	for _, rd := range r.Rounds {
		for _, s := range rd.Arms {
			if err := checkTimes(s.Results); err != nil {
				return fmt.Errorf("round %d %s: %w", rd.Round, s.Arm, err)
			}
			if s.storedSpeedup != nil && !near(*s.storedSpeedup, s.Speedup) {
				return fmt.Errorf("round %d %s: the file says speedup %v, its requests give %v: %w", rd.Round, s.Arm, *s.storedSpeedup, s.Speedup, ErrInconsistentRun)
			}
			if s.storedLast != nil && !near(*s.storedLast, s.LastMs) {
				return fmt.Errorf("round %d %s: the file says last response %v ms, its requests give %v ms: %w", rd.Round, s.Arm, *s.storedLast, s.LastMs, ErrInconsistentRun)
			}
		}
	}
	for _, a := range r.Arms {
		if a.stored != nil && !near(*a.stored, a.Speedup.Median) {
			return fmt.Errorf("%s: the file says median speedup %v, its rounds give %v: %w", a.Name, *a.stored, a.Speedup.Median, ErrInconsistentRun)
		}
		if a.storedCapacity == nil {
			continue
		}
		got := 0.0
		if a.Capacity != nil {
			got = a.Capacity.Rate
		}
		if !near(*a.storedCapacity, got) {
			return fmt.Errorf("%s: the file says capacity %v/s, its steps give %v/s: %w", a.Name, *a.storedCapacity, got, ErrInconsistentRun)
		}
	}
	for _, s := range r.Searches {
		for _, st := range s.Steps {
			if err := checkTimes(st.Results); err != nil {
				return fmt.Errorf("capacity search of %s at %.1f/s: %w", s.Arm, st.Rate, err)
			}
		}
	}
	return nil
}

// checkTimes checks that every request's times are finite and not
// negative.
func checkTimes(recs []Record) error {
	for _, rec := range recs {
		for _, v := range []float64{rec.SentMs, rec.LatencyMs, rec.EndMs, rec.QueueMs, rec.JobMs} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e9 {
				return fmt.Errorf("request %d has a time of %v ms: %w", rec.Seq, v, ErrInconsistentRun)
			}
		}
	}
	return nil
}

// ErrFailedRequests is wrapped by [Run.Check] when requests failed.
var ErrFailedRequests = errors.New("requests failed")

// Check returns an error wrapping ErrFailedRequests if any measured
// request failed, naming every arm that had failures and their kinds: a
// speedup computed over errors means nothing.
func (r *Run) Check() error {
	var failed []Arm
	for _, a := range r.Arms {
		if a.Errors > 0 {
			failed = append(failed, a)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	var more strings.Builder
	for _, a := range failed[1:] {
		fmt.Fprintf(&more, "; %s: %d of %d %v (%s)", a.Name, a.Errors, a.Requests, ErrFailedRequests, KindCounts(a.ErrorsByKind))
	}
	a := failed[0]
	return fmt.Errorf("%s: %d of %d %w (%s)%s", a.Name, a.Errors, a.Requests, ErrFailedRequests, KindCounts(a.ErrorsByKind), more.String())
}

// KindCounts lists failure counts by kind, in the kinds' order:
// "http_413: 20, timeout: 1", as every failure message says them.
func KindCounts(byKind map[string]int) string {
	parts := make([]string, 0, len(byKind))
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, byKind[k]))
	}
	return strings.Join(parts, ", ")
}
