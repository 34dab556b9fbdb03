//go:build !linux

package bench

import "github.com/flipbench/flipbench/results"

// cpuSnapshot would need /proc: elsewhere a bench records no CPU use.
type cpuSnapshot struct{}

func takeCPU() cpuSnapshot                 { return cpuSnapshot{} }
func (cpuSnapshot) since() *results.CPUUse { return nil }
