// Command changepoint measures flipbench history's change-point
// detection on fabricated series: for each noise model, noise size and
// step, the share of series in which any change was flagged and the
// share in which one was found within a point of the true step. The
// table is docs/ci.md's; history's tests pin its headline cells.
//
//	go run ./scripts/changepoint -trials 1000
package main

import (
	"flag"
	"fmt"

	"github.com/flipbench/flipbench/history"
)

func main() {
	trials := flag.Int("trials", 1000, "series per cell")
	points := flag.Int("points", 50, "points a series")
	flag.Parse()
	fmt.Printf("Share of %d series of %d points (go run ./scripts/changepoint -trials %d -points %d)\n\n", *trials, *points, *trials, *points)
	fmt.Printf("%-10s %6s %6s %6s %9s %13s\n", "noise", "sigma", "step", "at", "flagged", "within 1 pt")
	for _, lognormal := range []bool{false, true} {
		for _, cell := range []struct{ sigma, step float64 }{{0.05, 0}, {0.05, 0.05}, {0.05, 0.10}, {0.15, 0}, {0.15, 0.15}, {0.15, 0.30}} {
			ats := []int{*points / 2, *points - 8}
			if cell.step == 0 {
				ats = ats[:1] // no step: where it would be does not matter
			}
			for _, at := range ats {
				c := history.SeriesCase{Points: *points, At: at, Step: cell.step, Sigma: cell.sigma, Lognormal: lognormal}
				flagged, near := c.Rates(*trials, 1, history.DetectOptions{})
				model := "normal"
				if lognormal {
					model = "lognormal"
				}
				where := fmt.Sprint(at)
				if cell.step == 0 {
					where = "-"
				}
				fmt.Printf("%-10s %5.0f%% %5.0f%% %6s %8.1f%% %12.1f%%\n", model, 100*cell.sigma, 100*cell.step, where, 100*flagged, 100*near)
			}
		}
	}
}
