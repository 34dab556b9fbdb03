package bench

import (
	"fmt"

	"github.com/flipbench/flipbench/results"
)

// Action is what a [Step] does.
type Action int

// The actions of a schedule.
const (
	// Start starts a side's server and waits until it serves.
	Start Action = iota
	// WarmUp sends a discarded burst, one request per worker, so that
	// the first measured round does not pay for cold caches.
	WarmUp
	// Measure runs one measured burst.
	Measure
	// Stop stops a side's server.
	Stop
)

func (a Action) String() string {
	switch a {
	case Start:
		return "start"
	case WarmUp:
		return "warm-up"
	case Measure:
		return "measure"
	case Stop:
		return "stop"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Step is one thing a bench does to one side.
type Step struct {
	Action Action
	// Side is results.Standard or results.Cluster.
	Side string
	// Round is the measured round, from 1; 0 for other actions.
	Round int
}

func (s Step) String() string {
	if s.Action == Measure {
		return fmt.Sprintf("%s %s %d", s.Action, s.Side, s.Round)
	}
	return fmt.Sprintf("%s %s", s.Action, s.Side)
}

// Schedule is the order of work of a bench of rounds measured rounds.
// Side by side (sequential false), both servers start and warm up, then
// the rounds alternate in ABBA order: standard then cluster in odd rounds,
// cluster then standard in even ones, so that a drift in the machine's
// speed weighs on both sides alike. Sequential servers (they share one
// address) run one after the other: all of standard's rounds, then all
// of cluster's; rounds pair by number.
func Schedule(rounds int, sequential bool) []Step {
	std, cl := results.Standard, results.Cluster
	var steps []Step
	if sequential {
		for _, side := range []string{std, cl} {
			steps = append(steps, Step{Action: Start, Side: side}, Step{Action: WarmUp, Side: side})
			for r := 1; r <= rounds; r++ {
				steps = append(steps, Step{Action: Measure, Side: side, Round: r})
			}
			steps = append(steps, Step{Action: Stop, Side: side})
		}
		return steps
	}
	steps = append(steps, Step{Action: Start, Side: std}, Step{Action: Start, Side: cl},
		Step{Action: WarmUp, Side: std}, Step{Action: WarmUp, Side: cl})
	for r := 1; r <= rounds; r++ {
		first, second := std, cl
		if r%2 == 0 {
			first, second = cl, std
		}
		steps = append(steps, Step{Action: Measure, Side: first, Round: r}, Step{Action: Measure, Side: second, Round: r})
	}
	return append(steps, Step{Action: Stop, Side: std}, Step{Action: Stop, Side: cl})
}
