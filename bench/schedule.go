package bench

import (
	"fmt"
	"slices"
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

// Step is one thing a bench does to one arm.
type Step struct {
	Action Action
	// Arm is the arm's name: "standard", "cluster", "cluster/rr"...
	Arm string
	// Round is the measured round, from 1; 0 for other actions.
	Round int
}

func (s Step) String() string {
	if s.Action == Measure {
		return fmt.Sprintf("%s %s %d", s.Action, s.Arm, s.Round)
	}
	return fmt.Sprintf("%s %s", s.Action, s.Arm)
}

// Schedule is the order of work of a bench of rounds measured rounds at
// arms. Side by side (sequential false), every server starts and warms
// up, then the rounds alternate in ABBA order: the arms in their order
// in odd rounds, in reverse in even ones, so that a drift in the
// machine's speed weighs on every arm alike and no arm always follows
// the same one. Sequential servers (they share one address) run one
// after the other: all of one arm's rounds, then the next's; rounds pair
// by number.
func Schedule(arms []string, rounds int, sequential bool) []Step {
	var steps []Step
	if sequential {
		for _, arm := range arms {
			steps = append(steps, Step{Action: Start, Arm: arm}, Step{Action: WarmUp, Arm: arm})
			for r := 1; r <= rounds; r++ {
				steps = append(steps, Step{Action: Measure, Arm: arm, Round: r})
			}
			steps = append(steps, Step{Action: Stop, Arm: arm})
		}
		return steps
	}
	for _, arm := range arms {
		steps = append(steps, Step{Action: Start, Arm: arm})
	}
	for _, arm := range arms {
		steps = append(steps, Step{Action: WarmUp, Arm: arm})
	}
	reversed := slices.Clone(arms)
	slices.Reverse(reversed)
	for r := 1; r <= rounds; r++ {
		order := arms
		if r%2 == 0 {
			order = reversed
		}
		for _, arm := range order {
			steps = append(steps, Step{Action: Measure, Arm: arm, Round: r})
		}
	}
	for _, arm := range arms {
		steps = append(steps, Step{Action: Stop, Arm: arm})
	}
	return steps
}
