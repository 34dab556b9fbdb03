package bench

import (
	"maps"
	"slices"
	"testing"
)

func stepsOf(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.String()
	}
	return out
}

func TestScheduleSideBySideIsABBA(t *testing.T) {
	t.Parallel()
	got := stepsOf(Schedule([]string{"standard", "cluster"}, 3, false))
	want := []string{
		"start standard", "start cluster", "warm-up standard", "warm-up cluster",
		"measure standard 1", "measure cluster 1",
		"measure cluster 2", "measure standard 2",
		"measure standard 3", "measure cluster 3",
		"stop standard", "stop cluster",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Schedule(3, false) =\n%v\nwant\n%v", got, want)
	}
}

// TestScheduleSequentialInterleavesWithRestarts: servers that share an
// address are measured in the same ABBA order as the others, each
// measurement its own start, warm-up and stop.
func TestScheduleSequentialInterleavesWithRestarts(t *testing.T) {
	t.Parallel()
	got := stepsOf(Schedule([]string{"standard", "cluster"}, 2, true))
	want := []string{
		"start standard", "warm-up standard", "measure standard 1", "stop standard",
		"start cluster", "warm-up cluster", "measure cluster 1", "stop cluster",
		"start cluster", "warm-up cluster", "measure cluster 2", "stop cluster",
		"start standard", "warm-up standard", "measure standard 2", "stop standard",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Schedule(2, true) =\n%v\nwant\n%v", got, want)
	}
}

// TestScheduleMeasuresEveryRoundOnce holds for any round count: each side
// measures rounds 1..n once, and a side is started before it is measured
// and stopped after.
func TestScheduleMeasuresEveryRoundOnce(t *testing.T) {
	t.Parallel()
	arms := []string{"standard", "cluster/shared", "cluster/rr", "cluster/free"}
	for _, seq := range []bool{false, true} {
		for rounds := 1; rounds <= 7; rounds++ {
			running := map[string]bool{}
			measured := map[Step]int{}
			for _, st := range Schedule(arms, rounds, seq) {
				switch st.Action {
				case Start:
					if seq && slices.Contains(slices.Collect(maps.Values(running)), true) {
						t.Fatalf("rounds %d: %s while another server holds the address", rounds, st)
					}
					running[st.Arm] = true
				case Stop:
					running[st.Arm] = false
				default:
					if !running[st.Arm] {
						t.Fatalf("rounds %d sequential %v: %s before its server started", rounds, seq, st)
					}
				}
				if st.Action == Measure {
					measured[st]++
				}
			}
			if len(measured) != len(arms)*rounds {
				t.Errorf("rounds %d sequential %v: %d bursts measured, want %d", rounds, seq, len(measured), len(arms)*rounds)
			}
			for st, n := range measured {
				if n != 1 || st.Round < 1 || st.Round > rounds {
					t.Errorf("rounds %d sequential %v: %s measured %d times", rounds, seq, st, n)
				}
			}
			for arm, on := range running {
				if on {
					t.Errorf("rounds %d sequential %v: %s is left running", rounds, seq, arm)
				}
			}
		}
	}
}

// TestScheduleBalancesPositions: over two rounds, every arm of a
// several-arm bench runs once in each half, so that none always runs
// right after the same one or always first.
func TestScheduleBalancesPositions(t *testing.T) {
	t.Parallel()
	arms := []string{"standard", "cluster/shared", "cluster/rr", "cluster/free"}
	var got []string
	for _, st := range Schedule(arms, 2, false) {
		if st.Action == Measure {
			got = append(got, st.String())
		}
	}
	want := []string{
		"measure standard 1", "measure cluster/shared 1", "measure cluster/rr 1", "measure cluster/free 1",
		"measure cluster/free 2", "measure cluster/rr 2", "measure cluster/shared 2", "measure standard 2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("measured\n%v\nwant\n%v", got, want)
	}
}
