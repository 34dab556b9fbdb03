package results

import (
	"errors"
	"math"
	"slices"
	"strings"
)

// USL is a fit of Gunther's Universal Scalability Law to a cluster's
// speedups by size,
//
//	C(N) = N / (1 + σ(N−1) + κN(N−1)),
//
// where σ is the share of the work that serializes (contention: a lock,
// one disk, one memory bus) and κ the cost of the workers keeping each
// other coherent (crosstalk), which makes the curve turn down.
type USL struct {
	// Sigma and Kappa are σ and κ, each at least 0.
	Sigma float64 `json:"sigma"`
	Kappa float64 `json:"kappa"`
	// Peak is the size at which the fitted speedup is highest,
	// √((1−σ)/κ); 0 when κ is 0 and the curve never turns down.
	Peak float64 `json:"peak,omitempty"`
	// RMSE is the root mean square of the fitted speedups' errors
	// against the measured ones, in speedup units.
	RMSE float64 `json:"rmse"`
}

// Speedup returns the fitted speedup of n workers.
func (u USL) Speedup(n float64) float64 {
	return n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
}

// ErrTooFewSizes is returned by [FitUSL] for fewer than two distinct
// sizes above one: σ and κ cannot both be told apart.
var ErrTooFewSizes = errors.New("a scalability fit needs speedups at two or more sizes above 1")

// FitUSL fits the law to speedups[i] measured with sizes[i] workers. With
// C(1) = 1 the law is linear in σ and κ,
//
//	N/C(N) − 1 = σ(N−1) + κN(N−1),
//
// so the fit is a least squares over that form, constrained to σ, κ ≥ 0
// (a negative coefficient has no meaning: the best fit with it at 0 is
// taken instead). Points with a speedup of 0 or less are left out.
func FitUSL(sizes, speedups []float64) (USL, error) {
	var a, b, y []float64 // the regressors and the response of the linear form
	var distinct []float64
	for i, n := range sizes {
		c := speedups[i]
		if c <= 0 || n < 1 {
			continue
		}
		if n > 1 && !slices.Contains(distinct, n) {
			distinct = append(distinct, n)
		}
		a, b, y = append(a, n-1), append(b, n*(n-1)), append(y, n/c-1)
	}
	if len(distinct) < 2 {
		return USL{}, ErrTooFewSizes
	}
	var saa, sab, sbb, say, sby float64
	for i := range a {
		saa += a[i] * a[i]
		sab += a[i] * b[i]
		sbb += b[i] * b[i]
		say += a[i] * y[i]
		sby += b[i] * y[i]
	}
	sse := func(s, k float64) float64 {
		var e float64
		for i := range a {
			d := y[i] - s*a[i] - k*b[i]
			e += d * d
		}
		return e
	}
	// The unconstrained solution of the normal equations, then each
	// boundary: the best of those that keep both coefficients >= 0.
	type cand struct{ s, k float64 }
	var cands []cand
	if det := saa*sbb - sab*sab; det != 0 {
		cands = append(cands, cand{(say*sbb - sby*sab) / det, (saa*sby - sab*say) / det})
	}
	cands = append(cands, cand{max(0, say/saa), 0}, cand{0, max(0, sby/sbb)}, cand{0, 0})
	best, bestErr := cand{}, math.Inf(1)
	for _, c := range cands {
		if c.s < 0 || c.k < 0 {
			continue
		}
		if e := sse(c.s, c.k); e < bestErr {
			best, bestErr = c, e
		}
	}
	u := USL{Sigma: best.s, Kappa: best.k}
	if u.Kappa > 0 && u.Sigma < 1 {
		u.Peak = math.Sqrt((1 - u.Sigma) / u.Kappa)
	}
	var se float64
	var n int
	for i, size := range sizes {
		if speedups[i] <= 0 || size < 1 {
			continue
		}
		d := u.Speedup(size) - speedups[i]
		se += d * d
		n++
	}
	u.RMSE = math.Sqrt(se / float64(n))
	return u, nil
}

// Curve is how a cluster's speedup changes with its size: one point per
// cluster arm of one build and policy, and the law fitted to them.
type Curve struct {
	// Build is the arms' build in a paired A/B bench, else empty.
	Build string `json:"build,omitempty"`
	// Sched is the arms' dispatch policy (empty for servers under test).
	Sched string `json:"sched,omitempty"`
	// Points are the arms, by size.
	Points []CurvePoint `json:"points"`
	// Fit is nil when the sizes cannot be fitted ([ErrTooFewSizes]).
	Fit *USL `json:"usl,omitempty"`
}

// CurvePoint is one cluster arm's size and median speedup.
type CurvePoint struct {
	Arm     string  `json:"arm"`
	Workers int     `json:"workers"`
	Speedup float64 `json:"speedup"`
}

// curves groups the cluster arms by build and policy into curves of
// their median burst speedups, for every group with two or more sizes.
func (r *Run) curves() []Curve {
	return r.fitCurves(func(a *Arm) float64 { return a.Speedup.Median })
}

// fitCurves groups the cluster arms by build and policy into curves of
// the speedup speedupOf reads (NaN: the arm has none), for every group
// with two or more sizes, each with the law fitted to it.
func (r *Run) fitCurves(speedupOf func(*Arm) float64) []Curve {
	var out []Curve
	for _, a := range r.Clusters() {
		if math.IsNaN(speedupOf(a)) {
			continue
		}
		i := slices.IndexFunc(out, func(c Curve) bool { return c.Build == a.Build && c.Sched == a.Sched })
		if i < 0 {
			out = append(out, Curve{Build: a.Build, Sched: a.Sched})
			i = len(out) - 1
		}
		out[i].Points = append(out[i].Points, CurvePoint{Arm: a.Name, Workers: a.Workers, Speedup: speedupOf(a)})
	}
	out = slices.DeleteFunc(out, func(c Curve) bool { return len(c.Points) < 2 })
	for i := range out {
		c := &out[i]
		slices.SortStableFunc(c.Points, func(x, y CurvePoint) int { return x.Workers - y.Workers })
		var sizes, speedups []float64
		for _, p := range c.Points {
			sizes, speedups = append(sizes, float64(p.Workers)), append(speedups, p.Speedup)
		}
		if u, err := FitUSL(sizes, speedups); err == nil {
			c.Fit = &u
		}
	}
	return out
}

// Name is the curve's build and policy, as "base, rr"; empty for the
// one curve of a plain bench of servers under test.
func (c Curve) Name() string {
	var parts []string
	for _, s := range []string{c.Build, c.Sched} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}
