// Package simulate measures the error rates of flipbench compare: it
// fabricates run files whose rounds follow a noise model, with a known
// change between base and head, and counts how often the comparison
// fails. scripts/simulate prints the whole table; its tests pin its
// headline cells.
package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/verdict"
)

// Noise models: how a measured last response strays from its true value.
const (
	// Normal multiplies by 1 + σZ (Z standard normal, kept above 0.05).
	Normal = "normal"
	// Lognormal multiplies by exp(σZ).
	Lognormal = "lognormal"
	// Outliers is Normal, with one value in ten slowed by a further 50%:
	// another process took the CPU for a while.
	Outliers = "outliers"
	// Uniform multiplies by a factor within 1 ± σ: "rounds vary by up to σ".
	Uniform = "uniform"
)

// Models lists the noise models.
var Models = []string{Normal, Lognormal, Outliers, Uniform}

// Where the noise goes.
const (
	// PerMode puts independent noise on each arm's last response: a
	// round's speedup carries two of them, a paired round's ratio four.
	PerMode = "per mode"
	// PerSpeedup puts the noise on each round's speedup alone.
	PerSpeedup = "per speedup"
)

// Designs of a comparison.
const (
	// Paired is one bench of both builds (bench --base-exe --head-exe).
	Paired = verdict.DesignPaired
	// TwoRuns is two benches, one a build.
	TwoRuns = verdict.DesignTwoRuns
)

// Case is one cell of the table.
type Case struct {
	Design string
	Model  string
	// Where is PerMode or PerSpeedup; Sigma the noise's size (0.15).
	Where string
	Sigma float64
	// Rounds a run (a paired run measures both builds in each).
	Rounds int
	// Drop is head's true speedup below base's, as a fraction: 0.3 is a
	// 30% drop (the cluster's last response 1/0.7 times longer).
	Drop float64
	// Drift, for two runs, is the noise of a whole run's speedup: each
	// run's cluster times are scaled by one more draw of the model (its
	// contention differs machine to machine, hour to hour: ten real runs
	// of one build had median speedups from 1.57 to 2.32). A paired run
	// has one machine and one hour.
	Drift float64
	// Shared is the share of a per-mode noise's variance that a round's
	// arms have in common: what the machine was doing during that round
	// weighs on every arm measured in it. It cancels in a round's speedup
	// and in a paired round's ratio. 20 real paired --quick benches here
	// had 0.37 (see [Measure]); 0 is independent noise.
	Shared float64
}

// Trial fabricates the case's runs once and compares them; it reports
// whether the comparison failed (a gated regression).
func (c Case) Trial(rng *rand.Rand, opt verdict.Options) (failed bool, err error) {
	noise := func(sigma float64) float64 { return factor(c.Model, sigma, rng) }
	const std, speedup = 10000.0, 2.0 // ms, the true standard last and base speedup
	// A per-mode draw is the round's shared factor times the arm's own,
	// their variances splitting σ² as Shared says.
	own, shared := c.Sigma, 0.0
	if c.Where == PerMode && c.Shared > 0 {
		own, shared = c.Sigma*math.Sqrt(1-c.Shared), c.Sigma*math.Sqrt(c.Shared)
	}
	roundFactor := map[int]float64{}
	last := func(round int, build string) (s, cl float64) {
		sp := speedup
		if build == results.Head {
			sp *= 1 - c.Drop
		}
		if c.Where == PerSpeedup {
			return std, std / (sp * noise(c.Sigma))
		}
		r, ok := roundFactor[round]
		if !ok {
			r = 1.0
			if shared > 0 {
				r = noise(shared)
			}
			roundFactor[round] = r
		}
		return std * r * noise(own), std / sp * r * noise(own)
	}
	var cmp *verdict.Comparison
	if c.Design == Paired {
		run := fabricate(c.Rounds, []string{results.Base, results.Head}, last)
		cmp, err = verdict.ComparePaired(run, "sim", opt)
	} else {
		runs := make([]*results.Run, 2)
		for i, build := range []string{results.Base, results.Head} {
			d := 1.0
			if c.Drift > 0 {
				d = noise(c.Drift)
			}
			clear(roundFactor) // another run: other rounds
			runs[i] = fabricate(c.Rounds, []string{""}, func(round int, _ string) (float64, float64) {
				s, cl := last(round, build)
				return s, cl * d
			})
		}
		cmp, err = verdict.Compare(runs[0], runs[1], "base", "head", opt)
	}
	if err != nil {
		return false, err
	}
	return !cmp.Passed(), nil
}

// Rate runs trials of the case and returns the share that failed.
func (c Case) Rate(trials int, seed uint64, opt verdict.Options) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(c.Rounds)))
	failed := 0
	for range trials {
		f, err := c.Trial(rng, opt)
		if err != nil {
			return 0, err
		}
		if f {
			failed++
		}
	}
	return float64(failed) / float64(trials), nil
}

// factor draws a multiplicative noise factor of the model.
func factor(model string, sigma float64, rng *rand.Rand) float64 {
	switch model {
	case Lognormal:
		return math.Exp(sigma * rng.NormFloat64())
	case Uniform:
		return 1 - sigma + 2*sigma*rng.Float64()
	case Outliers:
		f := math.Max(0.05, 1+sigma*rng.NormFloat64())
		if rng.Float64() < 0.1 {
			f *= 1.5
		}
		return f
	}
	return math.Max(0.05, 1+sigma*rng.NormFloat64())
}

// fabricate builds a run of the builds' standard and cluster arms (one
// build named "" for a run of one build), each round's last responses
// from lasts. Each burst is one request a worker-slot: the standard
// arm's a single request, the cluster's two, ending at the last
// response, so that every figure is derived from requests as in a real
// run file.
func fabricate(rounds int, builds []string, lasts func(round int, build string) (std, cl float64)) *results.Run {
	run := &results.Run{
		Schema: results.RunSchema,
		Env:    results.Env{Version: "sim", NumCPU: 2, CPU: "simulated"},
		Config: results.RunConfig{N: 2, Rounds: rounds, Threads: 1, Image: results.ImageInfo{SHA256: "sim"}},
	}
	if len(builds) == 2 {
		run.Config.Builds = []results.Build{{Name: results.Base, Exe: "base", SHA256: "b"}, {Name: results.Head, Exe: "head", SHA256: "h"}}
	}
	for _, b := range builds {
		std := results.BuildArmName(b, results.Standard)
		run.Arms = append(run.Arms,
			results.Arm{ArmSpec: results.ArmSpec{Name: std, Build: b, Mode: results.Standard, Workers: 1, Sched: "free"}},
			results.Arm{ArmSpec: results.ArmSpec{Name: results.BuildArmName(b, results.Cluster), Build: b, Mode: results.Cluster, Workers: 2, Sched: "free", Baseline: std}})
	}
	for r := 1; r <= rounds; r++ {
		rd := results.Round{Round: r}
		for _, b := range builds {
			s, cl := lasts(r, b)
			rd.Arms = append(rd.Arms,
				results.RoundSide{Arm: results.BuildArmName(b, results.Standard), Results: []results.Record{
					{Round: r, Status: 200, PID: 1, LatencyMs: s, EndMs: s}}},
				results.RoundSide{Arm: results.BuildArmName(b, results.Cluster), Results: []results.Record{
					{Round: r, Status: 200, PID: 2, LatencyMs: cl / 2, EndMs: cl / 2},
					{Round: r, Seq: 1, Status: 200, PID: 3, LatencyMs: cl, EndMs: cl}}})
		}
		run.Rounds = append(run.Rounds, rd)
	}
	if err := run.Validate(); err != nil {
		panic(fmt.Sprintf("simulate: %v", err)) // a bug here, not bad input
	}
	run.Derive()
	return run
}
