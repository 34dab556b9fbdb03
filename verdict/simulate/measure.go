package simulate

import (
	"errors"
	"math"

	"github.com/flipbench/flipbench/results"
)

// Noise is the per-mode noise measured in real runs: the parameters of
// a [Case] that fabricates rounds like them.
type Noise struct {
	// Sigma is the standard deviation of an arm's log last response
	// about its run's mean, pooled over arms and runs.
	Sigma float64
	// Shared is the mean correlation of two arms' deviations in one round.
	Shared float64
	// Ratio is the standard deviation of a paired round's log head/base
	// speedup ratio about its run's mean (0 when no run is paired): what
	// Sigma and Shared predict as 2σ√(1−Shared).
	Ratio float64
	// Rounds counts the rounds measured, over all runs.
	Rounds int
}

// Measure estimates the noise of runs' rounds: each arm's log last
// response less its run's mean, their spread and their correlation
// within a round. Runs need two arms or more and two complete rounds.
func Measure(runs []*results.Run) (Noise, error) {
	var devs [][]float64 // a round's deviations, one per arm
	var ratios []float64
	for _, run := range runs {
		names := make([]string, len(run.Arms))
		for i, a := range run.Arms {
			names[i] = a.Name
		}
		var rows [][]float64
		for _, rd := range run.Rounds {
			row := make([]float64, len(names))
			complete := true
			for i, name := range names {
				side := rd.Side(name)
				if side == nil || side.Stats.LastMs <= 0 {
					complete = false
					break
				}
				row[i] = math.Log(side.Stats.LastMs)
			}
			if complete {
				rows = append(rows, row)
			}
		}
		if len(names) < 2 || len(rows) < 2 {
			continue
		}
		means := make([]float64, len(names))
		for _, row := range rows {
			for i, v := range row {
				means[i] += v / float64(len(rows))
			}
		}
		for _, row := range rows {
			for i := range row {
				row[i] -= means[i]
			}
		}
		devs = append(devs, rows...)
		if run.Paired() {
			idx := map[string]int{}
			for i, n := range names {
				idx[n] = i
			}
			bs, bc := idx[results.BuildArmName(results.Base, results.Standard)], idx[results.BuildArmName(results.Base, results.Cluster)]
			hs, hc := idx[results.BuildArmName(results.Head, results.Standard)], idx[results.BuildArmName(results.Head, results.Cluster)]
			for _, row := range rows { // deviations: the run's mean ratio is gone
				ratios = append(ratios, (row[hs]-row[hc])-(row[bs]-row[bc]))
			}
		}
	}
	if len(devs) == 0 {
		return Noise{}, errors.New("no run with two arms and two complete rounds")
	}
	var ss, cross float64
	var pairs int
	for _, row := range devs {
		for i, v := range row {
			ss += v * v
			for _, w := range row[i+1:] {
				cross += v * w
				pairs++
			}
		}
	}
	cells := 0
	for _, row := range devs {
		cells += len(row)
	}
	variance := ss / float64(cells)
	n := Noise{Sigma: math.Sqrt(variance), Rounds: len(devs)}
	if pairs > 0 && variance > 0 {
		n.Shared = cross / float64(pairs) / variance
	}
	if len(ratios) > 0 {
		var rs float64
		for _, r := range ratios {
			rs += r * r
		}
		n.Ratio = math.Sqrt(rs / float64(len(ratios)))
	}
	return n, nil
}
