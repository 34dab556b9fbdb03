package results

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrUnknownSchema is wrapped by [Parse] and [ParseRun] for JSON that is
// not a file flipbench writes, or not of the kind asked for.
var ErrUnknownSchema = errors.New("not a flipbench file")

// ErrNotARun is wrapped by [ParseRun] for a load file: a flipbench
// file, but not a run.
var ErrNotARun = errors.New("not a run file")

// Parse reads a load file (a *[Summary]) or a run file (a *[Run], of
// any schema; see [ParseRun]).
func Parse(b []byte) (any, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := unmarshal(b, &head); err != nil {
		return nil, err
	}
	switch head.Schema {
	case LoadSchema:
		var s Summary
		if err := unmarshal(b, &s); err != nil {
			return nil, err
		}
		return &s, nil
	case RunSchema, RunSchemaV2, RunSchemaV1:
		return ParseRun(b)
	}
	return nil, fmt.Errorf("schema %q, want %s or %s: %w", head.Schema, LoadSchema, RunSchema, ErrUnknownSchema)
}

// ParseRun reads a run file. Files of the older schemas ([RunSchemaV1],
// [RunSchemaV2]: one standard side and one cluster side) are converted
// to a run of two arms; either way the run is validated and every
// derived figure is recomputed from the requests ([Run.Derive]).
func ParseRun(b []byte) (*Run, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := unmarshal(b, &head); err != nil {
		return nil, err
	}
	var run *Run
	switch head.Schema {
	case RunSchema:
		run = &Run{}
		if err := unmarshal(b, run); err != nil {
			return nil, err
		}
	case RunSchemaV2:
		var v2 runV2
		if err := unmarshal(b, &v2); err != nil {
			return nil, err
		}
		run = v2.convert()
	case RunSchemaV1:
		var v1 runV1
		if err := unmarshal(b, &v1); err != nil {
			return nil, err
		}
		var err error
		if run, err = v1.convert(); err != nil {
			return nil, err
		}
	case LoadSchema:
		// A flipbench file, of the other kind: say which.
		return nil, fmt.Errorf("%w: a load file (flipbench load), which has no arms to compare; want a run file from flipbench bench (%s)", ErrNotARun, RunSchema)
	default:
		return nil, fmt.Errorf("schema %q, want %s (a run file from flipbench bench): %w", head.Schema, RunSchema, ErrUnknownSchema)
	}
	if err := run.Validate(); err != nil {
		return nil, err
	}
	run.Derive()
	if err := run.checkStored(); err != nil {
		return nil, err
	}
	return run, nil
}

func unmarshal(b []byte, v any) error {
	err := json.Unmarshal(b, v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("not JSON (offset %d): %w", syn.Offset, err)
	}
	return err
}

// oldConfig is the configuration of v1 and v2 files, which had one
// cluster size and one policy for the whole run.
type oldConfig struct {
	RunConfig
	Workers int    `json:"workers"`
	Sched   string `json:"sched"`
}

// twoArms builds the run of a v1 or v2 file: a standard and a cluster
// arm, and each round's bursts at them.
func twoArms(c oldConfig, stdWorkers, clWorkers int, rounds []Round) *Run {
	spec := func(name string, workers int) ArmSpec {
		a := ArmSpec{Name: name, Mode: name, Workers: workers, Sched: c.Sched, Command: c.StandardCmd}
		if name == Cluster {
			a.Baseline, a.Command = Standard, c.ClusterCmd
		}
		return a
	}
	if rounds == nil {
		rounds = []Round{}
	}
	return &Run{
		Schema: RunSchema, Config: c.RunConfig, Order: []string{}, Rounds: rounds,
		Arms: []Arm{{ArmSpec: spec(Standard, stdWorkers)}, {ArmSpec: spec(Cluster, clWorkers)}},
	}
}

// oldSide is a v1 or v2 side of a round: its requests, and the last
// response the file stored, to check.
type oldSide struct {
	Results []Record `json:"results"`
	LastMs  *float64 `json:"last_ms"`
}

func round(n int, std, cl oldSide, speedup *float64) Round {
	return Round{Round: n, Arms: []RoundSide{
		{Arm: Standard, Results: std.Results, storedLast: std.LastMs},
		{Arm: Cluster, Results: cl.Results, storedLast: cl.LastMs, storedSpeedup: speedup},
	}}
}

// runV2 is the part of a flipbench/run/v2 file that is not derived: a
// standard and a cluster side, named.
type runV2 struct {
	Env         Env       `json:"env"`
	Config      oldConfig `json:"config"`
	Started     string    `json:"started"`
	WallMs      float64   `json:"wall_ms"`
	Order       []string  `json:"order"`
	Interrupted bool      `json:"interrupted"`
	Standard    struct {
		Workers int `json:"workers"`
	} `json:"standard"`
	Cluster struct {
		Workers int `json:"workers"`
	} `json:"cluster"`
	Rounds []struct {
		Round    int      `json:"round"`
		Standard oldSide  `json:"standard"`
		Cluster  oldSide  `json:"cluster"`
		Speedup  *float64 `json:"speedup"`
	} `json:"rounds"`
}

func (v runV2) convert() *Run {
	var rounds []Round
	for _, rd := range v.Rounds {
		rounds = append(rounds, round(rd.Round, rd.Standard, rd.Cluster, rd.Speedup))
	}
	run := twoArms(v.Config, cmp.Or(v.Standard.Workers, 1), cmp.Or(v.Cluster.Workers, v.Config.Workers), rounds)
	run.Env, run.Started, run.WallMs, run.Order, run.Interrupted = v.Env, v.Started, v.WallMs, v.Order, v.Interrupted
	return run
}

// runV1 is the part of a flipbench/run/v1 file that is not derived: the
// sides were a list, standard first, each with its own list of rounds.
type runV1 struct {
	Env         Env       `json:"env"`
	Config      oldConfig `json:"config"`
	Started     string    `json:"started"`
	WallMs      float64   `json:"wall_ms"`
	Order       []string  `json:"order"`
	Interrupted bool      `json:"interrupted"`
	Modes       []struct {
		Mode    string `json:"mode"`
		Workers int    `json:"worker_processes"`
		Rounds  []struct {
			Round int `json:"round"`
			oldSide
		} `json:"rounds"`
	} `json:"modes"`
	Speedup struct {
		PerRound []float64 `json:"per_round"`
	} `json:"speedup"`
}

func (v runV1) convert() (*Run, error) {
	if len(v.Modes) != 2 || v.Modes[0].Mode != Standard || v.Modes[1].Mode != Cluster {
		return nil, fmt.Errorf("%s file without its standard and cluster modes: %w", RunSchemaV1, ErrUnknownSchema)
	}
	std, cl := v.Modes[0].Rounds, v.Modes[1].Rounds
	var rounds []Round
	for i := range min(len(std), len(cl)) {
		var sp *float64
		if len(v.Speedup.PerRound) == len(std) && len(std) == len(cl) { // one a round: they align
			sp = &v.Speedup.PerRound[i]
		}
		rounds = append(rounds, round(std[i].Round, std[i].oldSide, cl[i].oldSide, sp))
	}
	// The first v1 files had no worker_processes: standard is one
	// worker, and the cluster is the configured size.
	run := twoArms(v.Config, cmp.Or(v.Modes[0].Workers, 1), cmp.Or(v.Modes[1].Workers, v.Config.Workers), rounds)
	run.Env, run.Started, run.WallMs, run.Order, run.Interrupted = v.Env, v.Started, v.WallMs, v.Order, v.Interrupted
	return run, nil
}
