package history

import (
	"fmt"
	"math"
	"slices"

	"github.com/flipbench/flipbench/results"
)

// Point is one run's value of a metric.
type Point struct {
	ID     string  `json:"id"`
	Commit string  `json:"commit"`
	Branch string  `json:"branch"`
	Time   string  `json:"time"` // RFC 3339
	Value  float64 `json:"value"`
}

// Series is one metric over the runs of one setup and branch, oldest
// first: what change-point detection reads.
type Series struct {
	Metric         string `json:"metric"`
	Unit           string `json:"unit"`
	HigherIsBetter bool   `json:"higher_is_better"`
	// Setup is the runs' [Setup]; Branch their branch.
	Setup  string  `json:"setup"`
	Branch string  `json:"branch"`
	Points []Point `json:"points"`
}

// SeriesOf splits the metric's values over entries (oldest first) into
// series, one for each setup and branch, in the order each first
// appears. An entry without the metric (an arm it did not measure) is
// not in them. A name no run has is [results.ErrUnknownMetric].
func SeriesOf(entries []Entry, metric string) ([]Series, error) {
	if _, err := results.ParseMetric(metric, false); err != nil {
		return nil, err
	}
	out := []Series{}
	known := false
	for _, e := range entries {
		f, ok := FigureOf(e.Run, metric)
		if !ok {
			continue
		}
		known = true
		setup := Setup(e.Run)
		i := slices.IndexFunc(out, func(s Series) bool { return s.Setup == setup && s.Branch == e.Branch })
		if i < 0 {
			out = append(out, Series{Metric: f.Metric, Unit: f.Unit, HigherIsBetter: f.HigherIsBetter, Setup: setup, Branch: e.Branch})
			i = len(out) - 1
		}
		out[i].Points = append(out[i].Points, Point{ID: e.ID, Commit: e.Commit, Branch: e.Branch, Time: e.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), Value: f.Value})
	}
	if !known && len(entries) > 0 {
		return nil, fmt.Errorf("%w %q: none of the %d runs has it", results.ErrUnknownMetric, metric, len(entries))
	}
	return out, nil
}

// FigureOf reads the metric of r as compare names it ("cluster.last"
// is the first cluster's), of the head build in a paired run; ok is
// false where r has no such figure or it was not measured.
func FigureOf(r *results.Run, metric string) (Figure, bool) {
	build := ""
	if r.Paired() {
		build = results.Head
	}
	m, err := r.Metric(metric, build)
	if err != nil {
		return Figure{}, false
	}
	v := m.Of(r)
	if !measured(m, v) {
		return Figure{}, false
	}
	return Figure{Metric: metric, Arm: m.Arm, Field: m.Field, Unit: m.Unit, HigherIsBetter: m.HigherIsBetter, Value: v}, true
}

// measured tells a figure from one that is not known: not a number (a
// speedup without responses), a cost of 0 where the bench could not
// measure it (a server whose processes it does not know), or a service
// time of 0 (none reported, or refused as no service time).
func measured(m results.Metric, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return v != 0 || m.Field != "cpu_per_request" && m.Field != "peak_rss" && m.Field != "service"
}
