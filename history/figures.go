package history

import (
	"fmt"
	"strings"

	"github.com/flipbench/flipbench/results"
)

// Figure is one figure of a recorded run, as results names it.
type Figure struct {
	// Metric is its name ("cluster.last", "speedup"); Arm and Field what
	// it reads; Unit and HigherIsBetter as results.Metric gives them.
	Metric, Arm, Field, Unit string
	HigherIsBetter           bool
	Value                    float64
}

// Figures are the figures of r that a series follows: every metric of
// its arms, of the head build in a paired run (the commit it measured).
// Figures that are not numbers (a speedup without responses) are left
// out.
func Figures(r *results.Run) []Figure {
	if len(r.Arms) == 0 {
		return nil
	}
	build := ""
	if r.Paired() {
		build = results.Head
	}
	var out []Figure
	for _, m := range r.Metrics(build) {
		v := m.Of(r)
		if !measured(m, v) {
			continue
		}
		out = append(out, Figure{Metric: m.Name, Arm: m.Arm, Field: m.Field, Unit: m.Unit, HigherIsBetter: m.HigherIsBetter, Value: v})
	}
	return out
}

// Setup is what a run's figures depend on besides the code: the CPUs,
// the image (or the URL of servers under test), the burst and the
// threads; a capacity run's SLOs. Runs of one setup form one series; the arms' own settings
// (workers, policy) are in their names.
func Setup(r *results.Run) string {
	image := r.Config.Image.SHA256
	if image == "" {
		image = r.Config.URL
	}
	if len(image) > 12 && !strings.Contains(image, "/") {
		image = image[:12]
	}
	setup := fmt.Sprintf("cpus=%d image=%s n=%d threads=%d", r.Env.NumCPU, image, r.Config.N, r.Config.Threads)
	if r.Capacity() { // a capacity depends on the SLOs it was searched at
		setup += " slos=" + strings.Join(r.Config.SLOs, ",")
	}
	return setup
}
