#!/usr/bin/env bash
# agentcheck.sh: the figures of docs/agents.md. Three `flipbench agent`
# processes on this machine, one reading its clock 200 ms ahead
# (--test-clock-skew), join `flipbench load --agents 3`, against
# loadcheck's test server (scripts/loadcheck -serve), which stamps when
# each request's handler starts and gives a burst's first-to-last
# arrival at /arrivals. It prints:
#   - for RUNS bursts of N (300) corrected, alternating with RUNS
#     uncorrected (--agents-no-clock-sync): the medians of the merged send
#     spread, the agents' release spread and the server's arrival spread;
#   - the same burst from one process (the floor on this machine);
#   - a rate of RATE (600/s) for 10 s over the three agents: the rate
#     achieved, (requests - 1) over the first-to-last send;
#   - a burst of 300 at a 50 ms handler, merged against one process:
#     the requests and the latency p50 and p99 of each;
#   - RUNS corrected bursts of N from fresh agents, started for each: the
#     first burst of their lives (the others' agents are warm after one).
#
#   scripts/agentcheck/agentcheck.sh
#   RUNS=9 N=300 RATE=600 scripts/agentcheck/agentcheck.sh
#   ONLY="cold" FB=/tmp/flipbench-before scripts/agentcheck/agentcheck.sh
#
# ONLY picks sections (bursts, rate, merged, cold); FB runs a flipbench
# built elsewhere (another commit's) instead of this tree's.
#
# Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-7}
n=${N:-300}
rate=${RATE:-600}
out=${OUT:-$(mktemp -d)}
only=${ONLY:-bursts rate merged cold}
fb=${FB:-$out/flipbench}
[[ -n ${FB:-} ]] || go build -o "$fb" ./cmd/flipbench
go build -o "$out/loadcheck" ./scripts/loadcheck
token=agentcheck-$$
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# A free port for the coordinator's NATS server, held by no one: the
# agents are started once and rejoin every coordinator on it.
nats_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats=nats://127.0.0.1:$nats_port

start_server() {
	sleep 3600 | "$out/loadcheck" -serve >"$out/server.out" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		url=$(sed -n 's/^listening on //p' "$out/server.out")
		[[ -n $url ]] && return
		sleep 0.1
	done
	echo "loadcheck -serve did not start" >&2
	exit 1
}

agent_pids=()
start_agents() {
	agent_pids=()
	for name in a b skewed; do
		local skew=0
		[[ $name == skewed ]] && skew=200ms
		"$fb" agent --nats "$nats" --nats-token "$token" --name "$name" --test-clock-skew "$skew" >"$out/agent-$name.log" 2>&1 &
		pids+=($!)
		agent_pids+=($!)
	done
}

stop_agents() {
	kill "${agent_pids[@]}" 2>/dev/null || true
	wait "${agent_pids[@]}" 2>/dev/null || true
	local keep=() p a
	for p in "${pids[@]}"; do
		for a in "${agent_pids[@]}"; do [[ $p == "$a" ]] && continue 2; done
		keep+=("$p")
	done
	pids=("${keep[@]}")
	agent_pids=()
}

# coordinate ARGS...: one load through the three agents, its JSON in
# $out/run.json.
coordinate() {
	"$fb" load --agents 3 --agents-nats-addr "127.0.0.1:$nats_port" --agents-nats-token "$token" \
		--format json -q --allow-errors "$@" >"$out/run.json" 2>"$out/coordinator.log"
}

# last_arrival: the server's first-to-last arrival of the last burst.
last_arrival() {
	curl -s "$url/arrivals" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[max(d, key=lambda k: int(k.split("-")[1]))])'
}

# figures: "send_spread release_spread arrival" of the last run.
figures() {
	python3 - "$out/run.json" "$(last_arrival)" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rel = [a["release_ms"] for a in s.get("agents", [])] or [0]
print(s["send_spread_ms"], round(max(rel) - min(rel), 3), sys.argv[2])
PY
}

median_of() { # column FILE
	python3 -c 'import statistics,sys; c=int(sys.argv[1]); v=[float(l.split()[c]) for l in open(sys.argv[2]) if l.strip()]; print("%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v)))' "$1" "$2"
}

bursts() {
	: >"$out/corrected" && : >"$out/uncorrected" && : >"$out/single"
	for _ in $(seq "$runs"); do
		coordinate -n "$n" --method GET --url "$url/?sleep=50ms"
		figures >>"$out/corrected"
		coordinate -n "$n" --method GET --url "$url/?sleep=50ms" --agents-no-clock-sync
		figures >>"$out/uncorrected"
		"$fb" load -n "$n" --method GET --url "$url/?sleep=50ms" --format json -q >"$out/run.json"
		figures >>"$out/single"
	done
	for kind in corrected uncorrected single; do
		echo "burst of $n, $kind ($runs runs): send spread $(median_of 0 "$out/$kind") ms, release spread $(median_of 1 "$out/$kind") ms, arrival spread $(median_of 2 "$out/$kind") ms"
	done
}

rate_split() {
	coordinate --rate "$rate/s" --duration 10s --method GET --url "$url/"
	python3 - "$out/run.json" "$rate" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
achieved = (s["requests"] - 1) / (s["send_spread_ms"] / 1000)
print("rate %s/s over 3 agents for 10 s: %d requests, %d ok, achieved %.2f/s (%+.2f%%)" % (
    sys.argv[2], s["requests"], s["ok"], achieved, 100 * (achieved / float(sys.argv[2]) - 1)))
PY
}

merged_vs_single() {
	coordinate -n 300 --method GET --url "$url/?sleep=50ms"
	cp "$out/run.json" "$out/merged.json"
	"$fb" load -n 300 --method GET --url "$url/?sleep=50ms" --format json -q >"$out/single.json"
	for kind in merged single; do
		python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); l=s["latency_ms"]; print("%s: %d requests, %d ok, p50 %.1f ms, p99 %.1f ms" % (sys.argv[2], s["requests"], s["ok"], l["p50"], l["p99"]))' "$out/$kind.json" "$kind"
	done
}

# cold_bursts: every burst from agents started for it.
cold_bursts() {
	: >"$out/cold"
	for _ in $(seq "$runs"); do
		stop_agents
		start_agents
		coordinate -n "$n" --method GET --url "$url/?sleep=50ms"
		figures >>"$out/cold"
	done
	echo "burst of $n, corrected, fresh agents ($runs runs): send spread $(median_of 0 "$out/cold") ms, release spread $(median_of 1 "$out/cold") ms, arrival spread $(median_of 2 "$out/cold") ms"
}

start_server
start_agents
for section in $only; do
	case $section in
	bursts) bursts ;;
	rate) rate_split ;;
	merged) merged_vs_single ;;
	cold) cold_bursts ;;
	*) echo "agentcheck: unknown section $section (bursts, rate, merged, cold)" >&2 && exit 2 ;;
	esac
done
