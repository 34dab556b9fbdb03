package capacity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
)

// referenceServer holds each request for hold in one of slots slots, a
// queue in front: it takes at most slots/hold requests a second, and
// past that its queue, and its latency, grow without bound.
func referenceServer(t *testing.T, slots int, hold time.Duration) string {
	t.Helper()
	sem := make(chan struct{}, slots)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		time.Sleep(hold)
		<-sem
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// loadgenMeasure holds a rate at url with flipbench's own load
// generator, open loop.
func loadgenMeasure(url string) Measure {
	return func(ctx context.Context, rate float64, d time.Duration) (Step, error) {
		sum, err := loadgen.Run(ctx, loadgen.Config{URL: url, Method: http.MethodGet, Rate: loadgen.RateOf(rate), Duration: d, KeepAlive: true})
		if err != nil {
			return Step{}, err
		}
		return Step{Results: sum.Results}, nil
	}
}

// TestSearchFindsAReferenceCapacity: 4 slots of 50 ms take 80 requests a
// second; the search finds it within 5%, in at most 60 s, and 8 slots
// double it.
func TestSearchFindsAReferenceCapacity(t *testing.T) {
	if raceDetector {
		t.Skip("timing: the race pass shares the CPUs with every package's; the plain pass runs it")
	}
	var found []float64
	for _, slots := range []int{4, 8} {
		url := referenceServer(t, slots, 50*time.Millisecond)
		slo, _ := results.ParseSLO("p99<=75ms")
		res, err := Search(context.Background(), Config{SLOs: []results.SLO{slo}, Start: 10, Resolution: 0.025, Hold: time.Second, MinRequests: 20, Budget: 60 * time.Second, Measure: loadgenMeasure(url)})
		if err != nil {
			t.Fatal(err)
		}
		want := float64(slots) / 0.05
		t.Logf("%d slots: capacity %.1f/s (want %.0f), %d steps in %s", slots, res.Capacity, want, len(res.Steps), res.Took.Round(time.Millisecond))
		if res.Capacity < 0.95*want || res.Capacity > 1.05*want || res.OutOfBudget || res.Took > 60*time.Second {
			t.Errorf("%d slots of 50 ms: capacity %.1f/s in %s (out of budget %v), want %.0f/s within 5%% in 60 s; steps %+v", slots, res.Capacity, res.Took, res.OutOfBudget, want, res.Steps)
		}
		found = append(found, res.Capacity)
	}
	if len(found) == 2 && (found[1]/found[0] < 1.9 || found[1]/found[0] > 2.1) {
		t.Errorf("8 slots took %.2fx what 4 did, want 2x within 5%%", found[1]/found[0])
	}
}

// fake is a fabricated server of capacity requests a second: past it,
// a queue that grows.
func fake(capacity float64) Measure {
	return func(_ context.Context, rate float64, d time.Duration) (Step, error) {
		n := int(rate * d.Seconds())
		recs := make([]results.Record, n)
		for i := range recs {
			recs[i] = results.Record{Status: 200, LatencyMs: 10}
			if rate > capacity {
				recs[i].LatencyMs = 10 + 100*(rate-capacity)
			}
		}
		return Step{Results: recs}, nil
	}
}

// TestSearchSteps drives the search with a fabricated server of 37/s:
// geometric steps up, bisection, confirmation, and a budget.
func TestSearchSteps(t *testing.T) {
	t.Parallel()
	slo, _ := results.ParseSLO("p99<=50ms")
	res, err := Search(context.Background(), Config{SLOs: []results.SLO{slo}, Hold: time.Millisecond, Measure: fake(37)})
	if err != nil || res.Capacity < 37*0.95 || res.Capacity > 37 {
		t.Errorf("capacity %v (%v), want just under 37; steps %+v", res.Capacity, err, res.Steps)
	}
	if last := res.Steps[len(res.Steps)-1]; !last.Passed || last.Rate != res.Capacity {
		t.Errorf("the last step %+v is not the confirmation of %v", last, res.Capacity)
	}
	// Nothing passes: capacity 0, after a few steps down.
	if res, err := Search(context.Background(), Config{SLOs: []results.SLO{slo}, Start: 10, Hold: time.Millisecond, Measure: fake(0.1)}); err != nil || res.Capacity != 0 || len(res.Steps) > 5 {
		t.Errorf("a server that meets nothing: capacity %v after %d steps (%v)", res.Capacity, len(res.Steps), err)
	}
	// A budget smaller than a step: out of budget at once.
	if res, err := Search(context.Background(), Config{SLOs: []results.SLO{slo}, Hold: time.Second, Budget: time.Millisecond, Measure: fake(37)}); err != nil || !res.OutOfBudget {
		t.Errorf("budget: %+v, %v; want out of budget", res, err)
	}
	// A step whose queue drains past the budget (the first step passes,
	// the second never ends by itself) is cut at the budget, dropped,
	// and the search is out of budget with what it found.
	slow := func(ctx context.Context, rate float64, d time.Duration) (Step, error) {
		if rate > 1000 {
			<-ctx.Done()
			return fake(1e6)(ctx, rate, d) // what it sent passed: judged, it would pass
		}
		return fake(1e6)(ctx, rate, d)
	}
	res, err = Search(context.Background(), Config{SLOs: []results.SLO{slo}, Start: 1000, Hold: time.Millisecond, MinRequests: 1, Budget: 200 * time.Millisecond, Measure: slow})
	if err != nil || !res.OutOfBudget || res.Capacity != 1000 || len(res.Steps) != 1 || res.Took > 2*time.Second {
		t.Errorf("a step past the budget: %+v, %v; want out of budget at 1000/s, one step, within the budget", res, err)
	}
}

// TestDisturbedStepsAreRepeated: a step other processes disturbed is
// held again and does not count; the repeat's verdict does.
func TestDisturbedStepsAreRepeated(t *testing.T) {
	t.Parallel()
	disturbedAt := map[float64]int{16: 1, 32: 3} // 32/s: disturbed every time
	server := fake(37)
	measure := func(ctx context.Context, rate float64, d time.Duration) (Step, error) {
		st, err := server(ctx, rate, d)
		if disturbedAt[rate] > 0 {
			disturbedAt[rate]--
			st.CPU = &results.CPUUse{OtherMs: 900, WallMs: 1000, OursMs: 100}
		}
		return st, err
	}
	slo, _ := results.ParseSLO("p99<=50ms")
	res, err := Search(context.Background(), Config{SLOs: []results.SLO{slo}, Hold: time.Millisecond, Measure: measure})
	if err != nil || res.Capacity < 37*0.95 || res.Capacity > 37 {
		t.Fatalf("capacity %v (%v), want just under 37; steps %+v", res.Capacity, err, res.Steps)
	}
	held := map[float64][]bool{} // rate: repeated, in order
	for _, st := range res.Steps {
		held[st.Rate] = append(held[st.Rate], st.Repeated)
	}
	if r := held[16]; len(r) != 2 || !r[0] || r[1] {
		t.Errorf("16/s disturbed once: held %v (repeated flags), want [true false]", r)
	}
	if r := held[32]; len(r) != 3 || !r[0] || !r[1] || r[2] {
		t.Errorf("32/s disturbed every time: held %v, want two repeats and a third whose verdict stands", r)
	}
}
