package bench

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/flipbench/flipbench/loadgen"
)

// DefaultRounds is how many measured rounds a bench runs: six, the
// fewest for which a 95% confidence interval of the median exists without
// assumptions, so that compare can give one.
const DefaultRounds = 6

// Config describes a bench.
type Config struct {
	// Servers starts the arms' servers: [Own] or [Commands].
	Servers Servers
	// Requests is the burst size. Zero means loadgen.DefaultRequests.
	Requests int
	// Rounds is the number of measured rounds. Zero means [DefaultRounds].
	Rounds int
	// Timeout bounds each request. Zero means loadgen.DefaultTimeout.
	Timeout time.Duration
	// Measurement is what a measure step does to an arm. Nil means a
	// [Burst] of Requests requests, each bounded by Timeout.
	Measurement Measurement
	// Loader fires the load. Nil means [LocalLoader].
	Loader Loader
	// Version and Commit identify the program in the run's environment.
	Version, Commit string
	// Progress, if set, is called as requests complete; label names the
	// load: "warm-up standard", "cluster 3/6".
	Progress func(label string, p loadgen.Progress)
}

// Validate checks the configuration and the servers'.
func (c Config) Validate() error {
	switch {
	case c.Servers == nil:
		return errors.New("bench: no servers to compare")
	case c.Rounds < 0:
		return fmt.Errorf("rounds must be >= 1, got %d", c.Rounds)
	case c.Timeout < 0:
		return fmt.Errorf("timeout must be > 0, got %s", c.Timeout)
	}
	if err := (loadgen.Config{Requests: c.Requests}).Validate(); err != nil { // the burst's size
		return err
	}
	return c.Servers.Validate()
}

func (c Config) requests() int { return cmp.Or(c.Requests, loadgen.DefaultRequests) }
func (c Config) rounds() int   { return cmp.Or(c.Rounds, DefaultRounds) }

func (c Config) measurement() Measurement {
	if c.Measurement != nil {
		return c.Measurement
	}
	return Burst{Requests: c.Requests, Timeout: c.Timeout}
}

func (c Config) loader() Loader {
	if c.Loader != nil {
		return c.Loader
	}
	return LocalLoader
}
