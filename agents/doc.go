// Package agents spreads one load over several machines. Load agents
// (`flipbench agent`, an [Agent]) join a coordinator (`flipbench load
// --agents N`, a [Coordinator]) over NATS; the coordinator measures each
// agent's clock against its own, splits every round's work between them
// (a burst's requests, a rate, a closed loop's clients), has them all
// release it at one instant, and merges the records they send back into
// one results.Summary, each agent's figures kept beside it.
//
// # Protocol
//
// Core NATS only (no JetStream), every subject under "flipbench.load.":
//
//   - agent.ID.VERB: an agent's own subjects, ID made up by the agent
//     process and listened on from its start, before it joins.
//   - join: an agent asks to join (its ID and name); the coordinator
//     answers with the subjects of its run, or that it has its agents
//     already (the agent asks again a second later: a late agent waits
//     for the next round).
//   - agent.ID.clock: the coordinator asks the agent's clock, several
//     times before each round; the exchange with the least round trip
//     gives the offset and its error bound (NTP's way).
//   - agent.ID.work: the coordinator gives the agent its share of a
//     round and the instant to release it, in the agent's clock.
//   - agent.ID.cancel: the coordinator calls off the agent's round (the
//     load was interrupted, or the round ran out of time).
//   - agent.ID.bye: the coordinator is done with the agent, which goes
//     back to waiting for one.
//   - RUN.records: the agent sends its records back as they come, in
//     batches, and a last message with their count.
//   - RUN.beat: the agent's heartbeat, twice a second; the coordinator's
//     answer tells it whether it is still known. An agent silent for
//     [LostAfter] is lost; a coordinator silent as long is gone, and the
//     agent waits for another.
//
// Every message is JSON. Times cross machines as Unix nanoseconds by
// the clock of the machine that read them.
package agents
