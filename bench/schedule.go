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
// arms. Every arm is measured in every round, in ABBA order: the arms in
// their order in odd rounds, in reverse in even ones, so that a drift in
// the machine's speed weighs on every arm alike and no arm always
// follows the same one. Side by side (sequential false), every server
// starts and warms up once, first. Servers that share one address
// (sequential) cannot run at once: each measurement starts its arm's
// server, warms it up, measures it and stops it, so that a slow minute
// lands on every arm, not on one arm's block of rounds. That costs a
// start, a warm-up and a stop a measurement: 3.8 s for the Node example
// on a 2400x1600 image, whose warm-up is a 1.4 s job a worker.
func Schedule(arms []string, rounds int, sequential bool) []Step {
	var steps []Step
	if !sequential {
		for _, arm := range arms {
			steps = append(steps, Step{Action: Start, Arm: arm})
		}
		for _, arm := range arms {
			steps = append(steps, Step{Action: WarmUp, Arm: arm})
		}
	}
	reversed := slices.Clone(arms)
	slices.Reverse(reversed)
	for r := 1; r <= rounds; r++ {
		order := arms
		if r%2 == 0 {
			order = reversed
		}
		for _, arm := range order {
			if sequential {
				steps = append(steps, Step{Action: Start, Arm: arm}, Step{Action: WarmUp, Arm: arm},
					Step{Action: Measure, Arm: arm, Round: r}, Step{Action: Stop, Arm: arm})
			} else {
				steps = append(steps, Step{Action: Measure, Arm: arm, Round: r})
			}
		}
	}
	if !sequential {
		for _, arm := range arms {
			steps = append(steps, Step{Action: Stop, Arm: arm})
		}
	}
	return steps
}
