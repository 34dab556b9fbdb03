package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/verdict"
)

// WorkCase is a paired run whose head build does Work more per job than
// its base (0.3: 30% more, a busy loop after each flip): every time of
// both arms and the CPU a request are 1+Work times base's, while the
// speedup and the memory do not move. This is the regression pull
// requests ship most often, which only the paired gates on the cost of a
// request can catch (the speedup cannot: both modes slow down alike).
type WorkCase struct {
	// Rounds a run (each measures both builds).
	Rounds int
	// Work is head's extra work per job, as a fraction.
	Work float64
	// Sigma is the noise of every figure of a burst (lognormal):
	// independent between figures, arms, builds and rounds. Zero means
	// the noise measured in real paired runs ([MeasuredNoise]).
	Sigma float64
	// MemoryMB is head's extra peak memory a worker, in MiB (a buffer it
	// keeps), on a base of 50 MiB a process.
	MemoryMB float64
}

// MeasuredNoise is the noise of a burst's figures in real paired runs
// here: the standard deviations of a round's log head/base that
// scripts/simulate -measure gave for 3 paired benches of one build
// against itself, 12 rounds each, a 2400x1600 image on 2 CPUs (last
// response 0.035 and 0.044, the service time the server reports 0.036
// and 0.027, CPU a request 0.034 and 0.026, peak memory 0.002 and 0.001,
// standard and cluster), each taken as two builds' independent draws
// (over √2), the larger of the two arms.
var MeasuredNoise = map[string]float64{
	"last": 0.044 / math.Sqrt2, "service": 0.036 / math.Sqrt2, "cpu": 0.034 / math.Sqrt2, "memory": 0.002 / math.Sqrt2,
}

// noise is the sigma of one figure.
func (c WorkCase) noise(figure string) float64 {
	if c.Sigma > 0 {
		return c.Sigma
	}
	return MeasuredNoise[figure]
}

// Trial fabricates the case's paired run once and compares it with opt;
// it reports whether the comparison failed.
func (c WorkCase) Trial(rng *rand.Rand, opt verdict.Options) (bool, error) {
	draw := func(figure string) float64 { return math.Exp(c.noise(figure) * rng.NormFloat64()) }
	run := fabricatePaired(c.Rounds, func(round int, build string, workers int) side {
		job, mem := 1000.0, 50.0 // ms of work a request; MiB a process
		if build == results.Head {
			job *= 1 + c.Work
			mem += c.MemoryMB
		}
		n := 2 // requests a burst
		return side{
			last:    job * float64(n/workers) * draw("last"),
			service: job * draw("service"),
			cpuMs:   job * float64(n) * draw("cpu"),
			peakMB:  mem * float64(workers+1) * draw("memory"), // the workers and their supervisor
		}
	})
	cmp, err := verdict.ComparePaired(run, "sim", opt)
	if err != nil {
		return false, err
	}
	return !cmp.Passed(), nil
}

// Rate runs trials of the case and returns the share that failed.
func (c WorkCase) Rate(trials int, seed uint64, opt verdict.Options) (float64, error) {
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

// side is one burst's true figures, noise included.
type side struct {
	last, service, cpuMs, peakMB float64
}

// fabricatePaired builds a paired run of a standard arm (one worker) and
// a cluster of two, each burst two requests: the standard's one after the
// other, the cluster's together, ending at last; each request reports
// service as its job time; each burst cost its server cpuMs and peakMB.
func fabricatePaired(rounds int, figures func(round int, build string, workers int) side) *results.Run {
	run := fabricate(rounds, []string{results.Base, results.Head}, func(int, string) (float64, float64) { return 1, 1 })
	for i := range run.Rounds {
		rd := &run.Rounds[i]
		for j := range rd.Arms {
			a := run.Arms[j]
			f := figures(rd.Round, a.Build, a.Workers)
			var recs []results.Record
			for k := range 2 {
				end := f.last
				if a.Workers == 1 && k == 0 {
					end = f.last / 2
				}
				recs = append(recs, results.Record{Round: rd.Round, Seq: uint64(k), Status: 200, PID: 2 + k%a.Workers,
					LatencyMs: end, EndMs: end, JobMs: f.service})
			}
			rd.Arms[j].Results = recs
			rd.Arms[j].Cost = &results.Cost{CPUMs: f.cpuMs, PeakRSSMB: f.peakMB, SampleMs: 20, Samples: 10}
		}
	}
	if err := run.Validate(); err != nil {
		panic(fmt.Sprintf("simulate: %v", err))
	}
	run.Derive()
	return run
}
