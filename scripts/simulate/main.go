// Command simulate prints the error rates of flipbench compare: for each
// design (a paired bench, or two runs), noise model, place of the noise
// and round count, the share of trials in which compare failed the
// build, for true speedup drops of 0% (false alarms), 5%, 10% (the
// default threshold: at most 5% may fail), 20% and 30% (caught). Each
// cell is trials comparisons of fabricated runs (verdict/simulate); it
// takes some minutes on 2 CPUs:
//
//	go run ./scripts/simulate
//	go run ./scripts/simulate -trials 500 -rounds 6 -models lognormal
//	go run ./scripts/simulate -sigma 0.095 -shared 0.37
//
// -measure prints the noise of real run files instead (each arm's log
// last response about its run's mean, and how much a round's arms share),
// the -sigma and -shared that fabricate rounds like them:
//
//	go run ./scripts/simulate -measure ab-*.json
//
// -work prints the error rates of a paired comparison's default gates
// (the cost of a request, decided together) for a head that does more
// work per job, under the noise measured here and under -sigma on every
// figure:
//
//	go run ./scripts/simulate -work -trials 500
package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/verdict"
	"github.com/flipbench/flipbench/verdict/simulate"
)

var (
	trials  = flag.Int("trials", 2000, "comparisons per cell")
	sigma   = flag.Float64("sigma", 0.15, "the noise's size")
	drift   = flag.Float64("drift", 0, "two runs: noise of a whole run, on top (0.1: runs differ by ~10%)")
	shared  = flag.Float64("shared", 0, "per mode: the share of the noise's variance a round's arms have in common (0 to 1)")
	measure = flag.Bool("measure", false, "print the noise of the run files given as arguments, and exit")
	work    = flag.Bool("work", false, "print the paired gates' rates for a head that does more work per job, and exit")
	rounds  = flag.String("rounds", "4,6,12,20", "round counts")
	models  = flag.String("models", strings.Join(simulate.Models, ","), "noise models")
	wheres  = flag.String("where", simulate.PerMode+","+simulate.PerSpeedup, "where the noise goes")
	dropsF  = flag.String("drops", "0,5,10,20,30", "true drops of head's speedup, in percent (10 is the threshold)")
	designs = flag.String("design", simulate.Paired+","+simulate.TwoRuns, "designs")
)

func main() {
	flag.Parse()
	if *measure {
		measureRuns(flag.Args())
		return
	}
	if *work {
		workTable()
		return
	}
	if *shared < 0 || *shared >= 1 {
		check(fmt.Errorf("-shared %g: want 0 to below 1", *shared))
	}
	fmt.Printf("Share of %d comparisons that failed, noise %.1f%% (%.0f%% of its variance shared by a round's arms), two-run drift %.0f%% (go run ./scripts/simulate -trials %d -sigma %g -shared %g -drift %g)\n\n",
		*trials, 100**sigma, 100**shared, 100**drift, *trials, *sigma, *shared, *drift)
	var drops []float64
	head := "| design | noise | on | rounds |"
	for _, d := range strings.Split(*dropsF, ",") {
		pct, err := strconv.ParseFloat(d, 64)
		if err == nil && (pct < 0 || pct >= 100 || math.IsNaN(pct)) {
			err = fmt.Errorf("-drops %s: want 0 to below 100", d)
		}
		check(err)
		drops = append(drops, pct/100)
		switch pct {
		case 0:
			head += " 0% (false alarm) |"
		case 10:
			head += " 10% (threshold) |"
		default:
			head += fmt.Sprintf(" %g%% |", pct)
		}
	}
	fmt.Println(head)
	fmt.Println("|---|---|---|---|" + strings.Repeat("---|", len(drops)))
	for _, design := range strings.Split(*designs, ",") {
		for _, model := range strings.Split(*models, ",") {
			for _, where := range strings.Split(*wheres, ",") {
				for _, rs := range strings.Split(*rounds, ",") {
					n, err := strconv.Atoi(rs)
					check(err)
					cells := make([]string, len(drops))
					var wg sync.WaitGroup
					sem := make(chan struct{}, runtime.NumCPU())
					for i, d := range drops {
						wg.Go(func() {
							sem <- struct{}{}
							defer func() { <-sem }()
							c := simulate.Case{Design: design, Model: model, Where: where, Sigma: *sigma, Rounds: n, Drop: d, Drift: *drift, Shared: *shared}
							rate, err := c.Rate(*trials, uint64(i+1), verdict.Options{})
							if err != nil {
								cells[i] = "n/a: " + shortErr(err)
								return
							}
							cells[i] = fmt.Sprintf("%.1f%%", 100*rate)
						})
					}
					wg.Wait()
					fmt.Printf("| %s | %s | %s | %d | %s |\n", design, model, where, n, strings.Join(cells, " | "))
				}
			}
		}
	}
}

// measureRuns prints the noise of run files.
func measureRuns(paths []string) {
	if len(paths) == 0 {
		check(errors.New("-measure: name the run files to measure"))
	}
	var runs []*results.Run
	for _, p := range paths {
		b, err := os.ReadFile(p)
		check(err)
		run, err := results.ParseRun(b)
		check(err)
		runs = append(runs, run)
	}
	n, err := simulate.Measure(runs)
	check(err)
	fmt.Printf("%d runs, %d rounds: -sigma %.3f -shared %.2f", len(runs), n.Rounds, n.Sigma, n.Shared)
	if n.Ratio > 0 {
		fmt.Printf("; paired head/base ratio: sd %.3f (the two predict %.3f)", n.Ratio, 2*n.Sigma*math.Sqrt(1-n.Shared))
	}
	fmt.Println()
	for _, name := range slices.Sorted(maps.Keys(n.Metrics)) {
		fmt.Printf("  %-28s paired log head/base: sd %.3f\n", name, n.Metrics[name])
	}
}

func shortErr(err error) string {
	if errors.Is(err, verdict.ErrTooFewRounds) {
		return "refused: too few rounds"
	}
	s := err.Error()
	if i := strings.Index(s, ";"); i > 0 {
		s = s[:i]
	}
	return s
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
}

// workTable prints, for a paired run's default gates, the share of
// comparisons that failed for a head that does 0% to 30% more work per
// job (10%: the threshold), or keeps 15 MiB more a process, by round
// count, under the measured noise and under -sigma.
func workTable() {
	works := []float64{0, 0.05, 0.10, 0.20, 0.30}
	fmt.Printf("Share of %d paired comparisons that failed, default gates decided together (go run ./scripts/simulate -work -trials %d -sigma %g)\n\n", *trials, *trials, *sigma)
	fmt.Printf("%-22s %6s", "noise", "rounds")
	for _, w := range works {
		fmt.Printf(" %8s", fmt.Sprintf("+%.0f%%", 100*w))
	}
	fmt.Printf(" %10s\n", "+15 MiB")
	for _, s := range []float64{0, *sigma} {
		name := "measured"
		if s > 0 {
			name = fmt.Sprintf("independent %.0f%%", 100*s)
		}
		for _, r := range []int{6, 8, 12} {
			fmt.Printf("%-22s %6d", name, r)
			for _, w := range works {
				fmt.Printf(" %7.1f%%", 100*workRate(simulate.WorkCase{Rounds: r, Work: w, Sigma: s}))
			}
			fmt.Printf(" %9.1f%%\n", 100*workRate(simulate.WorkCase{Rounds: r, Sigma: s, MemoryMB: 15}))
		}
	}
}

func workRate(c simulate.WorkCase) float64 {
	rate, err := c.Rate(*trials, 1, verdict.Options{})
	check(err)
	return rate
}
