package report

import (
	"fmt"
	"io"
	"strconv"

	"github.com/flipbench/flipbench/results"
)

// writeAgentTables writes, for a load spread over agents, each agent's
// part of each round (requests, errors, clock offset and its bound, when
// it released its share by the coordinator's clock, its own send
// spread), each round's release spread across the agents with its bound,
// and the parts that are missing.
func writeAgentTables(w io.Writer, s *results.Summary, markdown bool) error {
	if len(s.Agents) == 0 && len(s.Incomplete) == 0 {
		return nil
	}
	head := row{"round", "agent", "requests", "errors", "clock offset", "release", "send spread", "missing"}
	var rows []row
	for _, a := range s.Agents {
		rows = append(rows, row{strconv.Itoa(a.Round), a.Agent, strconv.Itoa(a.Requests), strconv.Itoa(a.Errors),
			fmt.Sprintf("%+.3f ms ± %.3f", a.OffsetMs, a.OffsetBoundMs), fmt.Sprintf("%+.3f ms", a.ReleaseMs),
			Duration(a.SendSpreadMs), a.Missing})
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		if err := render(w, markdown, head, rows); err != nil {
			return err
		}
	}
	for _, rs := range s.RoundStats {
		if spread, bound := results.ReleaseSpread(s.Agents, rs.Round); bound > 0 {
			fmt.Fprintf(w, "\nround %d: the agents released %.3f ms apart (± %.3f ms, from their clock offsets' bounds); first to last send %s\n",
				rs.Round, spread, bound, Duration(rs.SendSpreadMs))
		}
	}
	for _, in := range s.Incomplete {
		fmt.Fprintf(w, "\nINCOMPLETE %s\n", in)
	}
	return nil
}

// agentCount is how many agents took part, in any round.
func agentCount(shares []results.AgentShare) int {
	seen := map[string]bool{}
	for _, a := range shares {
		seen[a.Agent] = true
	}
	return len(seen)
}
