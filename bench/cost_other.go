//go:build !linux

package bench

import "github.com/flipbench/flipbench/results"

// costMeter would need /proc: elsewhere a bench records no cost.
type costMeter struct{}

func startCost(root int) *costMeter      { return nil }
func (m *costMeter) stop() *results.Cost { return nil }
