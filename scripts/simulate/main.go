// Command simulate prints the error rates of flipbench compare: for each
// design (a paired bench, or two runs), noise model, place of the noise
// and round count, the share of trials in which compare failed the
// build, for true speedup drops of 0% (false alarms), 5%, 10% (the
// default threshold: at most 5% may fail), 20% and 30% (caught). Each
// cell is trials comparisons of fabricated runs (report/simulate); it
// takes some minutes on 2 CPUs:
//
//	go run ./scripts/simulate
//	go run ./scripts/simulate -trials 500 -rounds 6 -models lognormal
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/flipbench/flipbench/report"
	"github.com/flipbench/flipbench/report/simulate"
)

var (
	trials = flag.Int("trials", 2000, "comparisons per cell")
	sigma  = flag.Float64("sigma", 0.15, "the noise's size")
	drift  = flag.Float64("drift", 0, "two runs: noise of a whole run, on top (0.1: runs differ by ~10%)")
	rounds = flag.String("rounds", "4,6,12,20", "round counts")
	models = flag.String("models", strings.Join(simulate.Models, ","), "noise models")
	wheres = flag.String("where", simulate.PerMode+","+simulate.PerSpeedup, "where the noise goes")
)

var drops = []float64{0, 0.05, 0.10, 0.20, 0.30}

func main() {
	flag.Parse()
	fmt.Printf("Share of %d comparisons that failed, noise %.0f%%, two-run drift %.0f%% (go run ./scripts/simulate -trials %d -sigma %g -drift %g)\n\n",
		*trials, 100**sigma, 100**drift, *trials, *sigma, *drift)
	fmt.Println("| design | noise | on | rounds | 0% (false alarm) | 5% | 10% (threshold) | 20% | 30% |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, design := range []string{simulate.Paired, simulate.TwoRuns} {
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
							c := simulate.Case{Design: design, Model: model, Where: where, Sigma: *sigma, Rounds: n, Drop: d, Drift: *drift}
							rate, err := c.Rate(*trials, uint64(i+1), report.CompareOptions{})
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

func shortErr(err error) string {
	if errors.Is(err, report.ErrTooFewRounds) {
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
