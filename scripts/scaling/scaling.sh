#!/usr/bin/env bash
# scaling.sh: how the cluster's speedup over one worker changes with the
# burst size (-n) and with the worker count, on this machine: one
# `flipbench bench` per burst size (each interleaving standard and the
# cluster, paired by round), then one `bench --workers 1,...,2xCPUs` that
# measures every size in the same schedule and fits the Universal
# Scalability Law. Prints the tables of docs/performance.md.
#
#   scripts/scaling/scaling.sh                     # the default 20 MP photo: about 25 minutes on 2 CPUs
#   ROUNDS=3 SIZES="2 4 10" scripts/scaling/scaling.sh --quick
#
# A round is disturbed (as bench says, results.DisturbedCores) when other
# processes took more than a quarter of a core during one of its bursts.
# Extra arguments go to every bench (--quick, --image FILE, --sched rr...).
# The run files stay in $OUT (default: a new temporary directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-5}
sizes=${SIZES:-2 4 10 50}
out=${OUT:-$(mktemp -d)}
cpus=$(nproc)
go build -o "$out/flipbench" ./cmd/flipbench
fb=$out/flipbench

echo "burst size: \`flipbench bench -n N --rounds $rounds $*\` ($cpus CPUs, $cpus workers; run files in $out)"
echo
echo "| -n | standard last | cluster last | speedup (min-max) | efficiency | disturbed rounds |"
echo "|---|---|---|---|---|---|"
for n in $sizes; do
	"$fb" bench -n "$n" --rounds "$rounds" --quiet --out "$out/n$n.json" "$@" >/dev/null
	jq -r --arg n "$n" '
		def t: if . >= 1000 then "\(. / 10 | round / 100) s" else "\(. * 10 | round / 10) ms" end;
		(.arms[] | select(.mode == "standard")) as $s | (.arms[] | select(.mode == "cluster")) as $c |
		[ ([.rounds[] | select(any(.arms[]; .cpu != null and .cpu.wall_ms > 0 and .cpu.other_ms > 0.25 * .cpu.wall_ms and .cpu.other_ms >= 50))] | length) ] as $d |
		"| \($n) | \($s.last_ms | t) | \($c.last_ms | t) | \($c.speedup.median)x (\($c.speedup.min)-\($c.speedup.max)) | \($c.speedup.efficiency) | \($d[0]) of \(.rounds | length) |"' "$out/n$n.json"
done

workers=$(seq -s, 1 $((2 * cpus)))
echo
echo "worker count: \`flipbench bench --workers $workers --rounds $rounds $*\`"
echo
"$fb" bench --workers "$workers" --rounds "$rounds" --quiet --out "$out/workers.json" --plot "$out/workers.html" "$@" --format markdown
echo
echo "(plot: $out/workers.html)"
