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

// Parse reads a load file (a *[Summary]) or a run file (a *[Run], of
// either schema; see [ParseRun]).
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
	case RunSchema, RunSchemaV1:
		return ParseRun(b)
	}
	return nil, fmt.Errorf("schema %q, want %s, %s or %s: %w", head.Schema, LoadSchema, RunSchema, RunSchemaV1, ErrUnknownSchema)
}

// ParseRun reads a run file. A [RunSchemaV1] file, as flipbench wrote
// them before the sides were named, is converted; either way every
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
	case RunSchemaV1:
		var v1 runV1
		if err := unmarshal(b, &v1); err != nil {
			return nil, err
		}
		var err error
		if run, err = v1.convert(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("schema %q, want %s (a run file from flipbench bench): %w", head.Schema, RunSchema, ErrUnknownSchema)
	}
	run.Derive()
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

// runV1 is the part of a flipbench/run/v1 file that is not derived: the
// sides were a list, standard first, each with its own list of rounds.
type runV1 struct {
	Env         Env       `json:"env"`
	Config      RunConfig `json:"config"`
	Started     string    `json:"started"`
	WallMs      float64   `json:"wall_ms"`
	Order       []string  `json:"order"`
	Interrupted bool      `json:"interrupted"`
	Modes       []struct {
		Mode    string `json:"mode"`
		Workers int    `json:"worker_processes"`
		Rounds  []struct {
			Round   int      `json:"round"`
			Results []Record `json:"results"`
		} `json:"rounds"`
	} `json:"modes"`
}

func (v runV1) convert() (*Run, error) {
	if len(v.Modes) != 2 || v.Modes[0].Mode != Standard || v.Modes[1].Mode != Cluster {
		return nil, fmt.Errorf("%s file without its standard and cluster modes: %w", RunSchemaV1, ErrUnknownSchema)
	}
	run := &Run{
		Schema: RunSchema, Env: v.Env, Config: v.Config, Started: v.Started, WallMs: v.WallMs,
		Order: v.Order, Interrupted: v.Interrupted,
		// The first v1 files had no worker_processes: standard is one
		// worker, and the cluster is the configured size.
		Standard: Side{Workers: cmp.Or(v.Modes[0].Workers, 1)},
		Cluster:  Side{Workers: cmp.Or(v.Modes[1].Workers, v.Config.Workers)},
		Rounds:   []Round{},
	}
	std, cl := v.Modes[0].Rounds, v.Modes[1].Rounds
	for i := range min(len(std), len(cl)) {
		run.Rounds = append(run.Rounds, Round{
			Round:    std[i].Round,
			Standard: RoundSide{Results: std[i].Results},
			Cluster:  RoundSide{Results: cl[i].Results},
		})
	}
	return run, nil
}
