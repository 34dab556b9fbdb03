package history

import (
	"math"
	"math/rand/v2"
)

// SeriesCase is a fabricated series, for measuring [Detect]: Points
// values of 100 under noise, multiplied by 1+Step from point At on.
type SeriesCase struct {
	Points, At int
	Step       float64
	// Sigma is the noise's size; Lognormal multiplies by exp(Sigma z)
	// where normal multiplies by 1 + Sigma z.
	Sigma     float64
	Lognormal bool
}

// Draw fabricates the case's series once.
func (c SeriesCase) Draw(rng *rand.Rand) []float64 {
	v := make([]float64, c.Points)
	for i := range v {
		z := rng.NormFloat64()
		f := 1 + c.Sigma*z
		if c.Lognormal {
			f = math.Exp(c.Sigma * z)
		}
		v[i] = 100 * max(f, 1e-3)
		if i >= c.At {
			v[i] *= 1 + c.Step
		}
	}
	return v
}

// Rates fabricates trials series of the case and returns the share in
// which Detect flagged any change point, and the share in which one of
// them was at At, give or take one point.
func (c SeriesCase) Rates(trials int, seed uint64, opt DetectOptions) (flagged, located float64) {
	rng := rand.New(rand.NewPCG(seed, uint64(c.At)))
	var f, l int
	for i := range trials {
		opt.Seed = seed + uint64(i)
		cps := Detect(c.Draw(rng), opt)
		if len(cps) > 0 {
			f++
		}
		for _, cp := range cps {
			if cp.Index >= c.At-1 && cp.Index <= c.At+1 {
				l++
				break
			}
		}
	}
	return float64(f) / float64(trials), float64(l) / float64(trials)
}
