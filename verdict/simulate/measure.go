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
	// Metrics is, for paired runs, each compared metric's noise: the
	// standard deviation of its rounds' log head/base about its run's
	// mean, by metric name, over the runs that have it.
	Metrics map[string]float64
}

// Measure estimates the noise of runs' rounds: each arm's log last
// response less its run's mean, their spread and their correlation
// within a round. Runs need two arms or more and two complete rounds.
func Measure(runs []*results.Run) (Noise, error) {
	var devs [][]float64 // a round's deviations, one per arm
	var ratios []float64
	for _, run := range runs {
		names, rows := logRounds(run)
		if len(names) < 2 || len(rows) < 2 {
			continue
		}
		deviate(rows)
		devs = append(devs, rows...)
		if run.Paired() {
			ratios = append(ratios, pairedRatios(run, names, rows)...)
		}
	}
	if len(devs) == 0 {
		return Noise{}, errors.New("no run with two arms and two complete rounds")
	}
	n := noiseOf(devs, ratios)
	n.Metrics = metricNoise(runs)
	return n, nil
}

// logRounds returns the names of run's arms and, for each complete round
// (every arm has a last response), their log last responses in that
// order. Incomplete rounds are left out.
func logRounds(run *results.Run) ([]string, [][]float64) {
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
	return names, rows
}

// deviate turns a run's rows (at least one, all as long) into
// deviations, in place: each arm's value less that arm's mean over the
// rows.
func deviate(rows [][]float64) {
	means := make([]float64, len(rows[0]))
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
}

// pairedRatios returns, for each of a paired run's rows of deviations,
// the deviation of its log head/base speedup ratio, with the arms found
// in rows by names.
func pairedRatios(run *results.Run, names []string, rows [][]float64) []float64 {
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	// Each build's primary arm (its first cluster, else its first queue)
	// and the standard arm it is measured against.
	bp, hp := run.PrimaryIn(results.Base), run.PrimaryIn(results.Head)
	if bp == nil || hp == nil {
		return nil
	}
	bs, bc := idx[bp.Baseline], idx[bp.Name]
	hs, hc := idx[hp.Baseline], idx[hp.Name]
	var ratios []float64
	for _, row := range rows { // deviations: the run's mean ratio is gone
		ratios = append(ratios, (row[hs]-row[hc])-(row[bs]-row[bc]))
	}
	return ratios
}

// noiseOf measures the noise of rounds' deviations, devs, and of paired
// rounds' ratio deviations, ratios: their spread and, within a round,
// the arms' correlation.
func noiseOf(devs [][]float64, ratios []float64) Noise {
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
	return n
}

// metricNoise is each metric's paired noise, over the paired runs: the
// standard deviation of a round's log head/base about its run's mean, for
// the metrics of each build's standard and primary arms.
func metricNoise(runs []*results.Run) map[string]float64 {
	ss, cells := map[string]float64{}, map[string]int{}
	for _, run := range runs {
		hp, bp := run.PrimaryIn(results.Head), run.PrimaryIn(results.Base)
		if !run.Paired() || hp == nil || bp == nil {
			continue
		}
		for _, m := range run.Metrics(results.Head) {
			b := run.ArmIn(results.Base, m.Arm)
			h := run.ArmIn(results.Head, m.Arm)
			if b == nil || h == nil || (b.Mode != results.Standard && b != bp) {
				continue
			}
			var logs []float64
			bv, hv := m.Rounds(run, b), m.Rounds(run, h)
			for i := range bv {
				if bv[i] > 0 && hv[i] > 0 {
					logs = append(logs, math.Log(hv[i]/bv[i]))
				}
			}
			if len(logs) < 2 {
				continue
			}
			mean := 0.0
			for _, l := range logs {
				mean += l / float64(len(logs))
			}
			for _, l := range logs {
				ss[m.Name] += (l - mean) * (l - mean)
				cells[m.Name]++
			}
		}
	}
	out := map[string]float64{}
	for name, s := range ss {
		out[name] = math.Sqrt(s / float64(cells[name]))
	}
	return out
}
