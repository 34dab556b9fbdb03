package results

import "slices"

// AgentShare is one load agent's part of one round of a load spread
// over several machines (flipbench load --agents): what it sent, and how
// its clock and its release stood against the coordinator's. Its
// requests are among the summary's Results, their Source naming it.
type AgentShare struct {
	// Round is the round, from 1.
	Round int `json:"round"`
	// Agent is the agent's name.
	Agent string `json:"agent"`
	// Requests is the records it sent back, and Errors the failed ones
	// among them.
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	// OffsetMs is its clock minus the coordinator's, measured over NATS
	// before the round (NTP's way: of several exchanges, the one with
	// the least round trip), and OffsetBoundMs that measure's error bound
	// (half its round trip): the true offset is within OffsetMs ±
	// OffsetBoundMs.
	OffsetMs      float64 `json:"clock_offset_ms"`
	OffsetBoundMs float64 `json:"clock_offset_bound_ms"`
	// ReleaseMs is when it released its share (a burst's release, a rate's
	// or a closed loop's first send), by the coordinator's clock, after
	// the instant it was given: the round's, and for a rate's share the
	// stagger that interleaves the agents' requests. Every record's SentMs
	// counts from the round's instant.
	ReleaseMs float64 `json:"release_ms"`
	// SendSpreadMs is how far apart its own first and last sends were.
	SendSpreadMs float64 `json:"send_spread_ms"`
	// Missing says why its part of the round is missing or short (the
	// agent was lost, or did not answer within its time); empty when
	// the part is whole.
	Missing string `json:"missing,omitempty"`
}

// ReleaseSpread is how far apart the agents whose parts of round are
// whole released their shares, by the coordinator's clock (ms), and the bound
// on that figure's error: each release is known to within its agent's
// offset bound, so the spread is known to within the two largest bounds
// together. Both are 0 with fewer than two agents' releases.
func ReleaseSpread(shares []AgentShare, round int) (spread, bound float64) {
	var at, bounds []float64
	for _, a := range shares {
		if a.Round == round && a.Requests > 0 && a.Missing == "" {
			at = append(at, a.ReleaseMs)
			bounds = append(bounds, a.OffsetBoundMs)
		}
	}
	if len(at) < 2 {
		return 0, 0
	}
	slices.Sort(bounds)
	n := len(bounds)
	return slices.Max(at) - slices.Min(at), bounds[n-1] + bounds[n-2]
}
