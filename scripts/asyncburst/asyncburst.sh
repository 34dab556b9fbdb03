#!/usr/bin/env bash
# asyncburst.sh: how fast `flipbench queue --reply async` answers a burst
# of 500 uploads with 202 while its two local workers flip them, against
# the same burst of GET / (no work at all: the floor of 500 requests at
# once on this machine). Each build serves in turn, RUNS times; each run
# is one `flipbench load -n 500 --body small.jpg` (then a GET / burst),
# after which the script waits for every job to end. Prints the medians
# of the runs' p50 and p99 (the table of docs/queue.md).
#
#   scripts/asyncburst/asyncburst.sh                      # this tree
#   OLD=/tmp/flipbench-before scripts/asyncburst/asyncburst.sh
#   RUNS=7 N=500 scripts/asyncburst/asyncburst.sh
#
# The load is always this tree's `flipbench load` (the connections are
# opened before the release; latency counts from each request's send),
# so that only the front differs between the columns. Traffic stays on
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-5}
n=${N:-500}
out=${OUT:-$(mktemp -d)}
go build -o "$out/flipbench" ./cmd/flipbench
fb=$out/flipbench
builds=(new)
declare -A exe=([new]=$fb)
if [[ -n ${OLD:-} ]]; then
	builds=(old new)
	exe[old]=$OLD
fi
body=fixtures/small.jpg # the small fixture, as a file to upload

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start BUILD: a queue front on free ports; sets url.
start() {
	local log=$out/$1.out
	"${exe[$1]}" queue --addr 127.0.0.1:0 --nats-addr 127.0.0.1:0 --workers 2 --reply async \
		--queue 100000 --image fixture:small.jpg >"$log" 2>"$out/$1.err" &
	pids+=($!)
	for _ in $(seq 200); do
		url=$(sed -n 's/^listening on //p' "$log")
		[[ -n $url ]] && curl -sf "$url/healthz" | jq -e '(.stream.waiting // 0) >= 2' >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "$1: the queue did not start: $(cat "$out/$1.err")" >&2
	exit 1
}

# drain URL: wait until every accepted job has ended.
drain() {
	for _ in $(seq 1200); do
		curl -sf "$1/healthz" | jq -e '.done + .failed >= .accepted' >/dev/null && return
		sleep 0.1
	done
	echo "jobs still running at $1 after 2 minutes" >&2
	exit 1
}

declare -A urls
for b in "${builds[@]}"; do
	start "$b"
	urls[$b]=$url
done

for r in $(seq "$runs"); do
	for b in "${builds[@]}"; do
		u=${urls[$b]}
		"$fb" load -q -n "$n" --body "$body" --url "$u/flip" --out "$out/$b-post-$r.json" >/dev/null
		drain "$u"
		"$fb" load -q -n "$n" --method GET --url "$u/" --out "$out/$b-get-$r.json" >/dev/null
	done
	echo "run $r of $runs done (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done

median() { sort -n | awk '{v[NR]=$1} END {m=(NR+1)/2; printf "%.1f", (v[int(m)]+v[int(m+0.5)])/2}'; }
echo "\`OLD=${OLD:-} RUNS=$runs N=$n scripts/asyncburst/asyncburst.sh\` (medians of $runs runs, $(nproc) CPUs; files in $out)"
echo
echo "| build | 202 p50 | 202 p99 | 202s | GET / p50 | GET / p99 |"
echo "|---|---|---|---|---|---|"
for b in "${builds[@]}"; do
	p50=$(for r in $(seq "$runs"); do jq .latency_ms.p50 "$out/$b-post-$r.json"; done | median)
	p99=$(for r in $(seq "$runs"); do jq .latency_ms.p99 "$out/$b-post-$r.json"; done | median)
	acc=$(for r in $(seq "$runs"); do jq '.status_codes["202"] // 0' "$out/$b-post-$r.json"; done | median)
	g50=$(for r in $(seq "$runs"); do jq .latency_ms.p50 "$out/$b-get-$r.json"; done | median)
	g99=$(for r in $(seq "$runs"); do jq .latency_ms.p99 "$out/$b-get-$r.json"; done | median)
	echo "| $b | $p50 ms | $p99 ms | $acc of $n | $g50 ms | $g99 ms |"
done
