package results

import "testing"

func TestPercentile(t *testing.T) {
	t.Parallel()
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct{ p, want float64 }{{0, 1}, {50, 5.5}, {90, 9.1}, {100, 10}} {
		if got := Percentile(v, tt.p); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("Percentile(1..10, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestJain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		counts  map[string]int
		workers int
		want    float64
	}{
		{map[string]int{"1": 5, "2": 5}, 2, 1},
		{map[string]int{"1": 10}, 2, 0.5}, // one did all, one nothing
		{map[string]int{"1": 3, "2": 1}, 2, 0.8},
		{nil, 2, 0},
	} {
		if got := Jain(tt.counts, tt.workers); got != tt.want {
			t.Errorf("Jain(%v, %d) = %v, want %v", tt.counts, tt.workers, got, tt.want)
		}
	}
}
