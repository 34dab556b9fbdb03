#!/usr/bin/env bash
# queuecost.sh: what the queue costs a job over a cluster, in
# milliseconds: `flipbench cluster --workers 2` and `flipbench queue
# --workers 2` (wait replies) on the small image, side by side, each
# loaded in turn by one client at a time (`load -c 1 --duration DUR
# --warmup 20`), without a body (the server flips its own image) and with
# the 29 KB image as the body. Prints the medians over RUNS runs of each
# side's p50 and p99 and of their run-by-run differences (the table of
# docs/queue.md).
#
#   scripts/queuecost/queuecost.sh
#   RUNS=5 DUR=15s scripts/queuecost/queuecost.sh
#
# One client at a time, so that what differs is the path of one job
# (the queue's publish, pull, record writes, acknowledgement and watch
# against the cluster's handoff), not the dispatch of many. Traffic
# stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-3}
dur=${DUR:-10s}
out=${OUT:-$(mktemp -d)}
go build -o "$out/flipbench" ./cmd/flipbench
fb=$out/flipbench
body=fixtures/small.jpg

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME ARGS...: a server on free ports; sets url.
start() {
	local name=$1 log=$out/$1.out
	shift
	"$fb" "$@" --addr 127.0.0.1:0 --workers 2 --image fixture:small.jpg >"$log" 2>"$out/$name.err" &
	pids+=($!)
	for _ in $(seq 200); do
		url=$(sed -n 's/^listening on //p' "$log")
		[[ -n $url ]] && curl -sf "$url/" >/dev/null && return
		sleep 0.1
	done
	echo "$name did not start: $(cat "$out/$name.err")" >&2
	exit 1
}
start cluster cluster
cl=$url
start queue queue --nats-addr 127.0.0.1:0
qu=$url

for r in $(seq "$runs"); do
	for b in none body; do
		extra=()
		[[ $b == body ]] && extra=(--body "$body")
		for side in cluster queue; do
			u=$cl
			[[ $side == queue ]] && u=$qu
			"$fb" load -q -c 1 --duration "$dur" --warmup 20 "${extra[@]}" --url "$u/flip" --out "$out/$side-$b-$r.json" >/dev/null
		done
	done
	echo "run $r of $runs done (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done

median() { sort -n | awk '{v[NR]=$1} END {m=(NR+1)/2; printf "%.2f\n", (v[int(m)]+v[int(m+0.5)])/2}'; }
fig() { for r in $(seq "$runs"); do jq ".latency_ms.$3" "$out/$1-$2-$r.json"; done | median; }
delta() {
	for r in $(seq "$runs"); do
		jq -n --slurpfile q "$out/queue-$1-$r.json" --slurpfile c "$out/cluster-$1-$r.json" \
			"\$q[0].latency_ms.$2 - \$c[0].latency_ms.$2"
	done | median | awk '{printf "%+.2f", $1}'
}
echo "\`RUNS=$runs DUR=$dur scripts/queuecost/queuecost.sh\` (medians of $runs runs, $(nproc) CPUs; files in $out)"
echo
echo "| body | cluster p50 | queue p50 | queue - cluster, p50 | cluster p99 | queue p99 | queue - cluster, p99 | requests a run (cluster, queue) |"
echo "|---|---|---|---|---|---|---|---|"
for b in none body; do
	n=$(for s in cluster queue; do for r in $(seq "$runs"); do jq .requests "$out/$s-$b-$r.json"; done | median | cut -d. -f1; done | paste -sd, -)
	label="none (the server's own image)"
	[[ $b == body ]] && label="small.jpg, 29 KB"
	echo "| $label | $(fig cluster "$b" p50) ms | $(fig queue "$b" p50) ms | **$(delta "$b" p50) ms** | $(fig cluster "$b" p99) ms | $(fig queue "$b" p99) ms | $(delta "$b" p99) ms | $n |"
done
