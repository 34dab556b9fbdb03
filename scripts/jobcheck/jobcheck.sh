#!/usr/bin/env bash
# jobcheck.sh: the flip job on one photo, side by side with ImageMagick and
# libvips, interleaved, medians of RUNS runs: CPU (user + system) and peak
# RSS of each whole process, as GNU time reports them.
#
#   scripts/jobcheck/jobcheck.sh                       # the embedded default photo
#   RUNS=9 scripts/jobcheck/jobcheck.sh photo.jpg
#   OLD=/tmp/flipbench-main scripts/jobcheck/jobcheck.sh   # and another build, for a before/after
#
# Needs GNU time (/usr/bin/time), and for the other columns ImageMagick's
# convert and libvips' vips (apt-get install imagemagick libvips-tools);
# a tool that is missing is left out. Every tool writes quality 90.
set -euo pipefail
cd "$(dirname "$0")/../.."
in=${1:-fixtures/photo.jpg}
runs=${RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/flipbench" ./cmd/flipbench

declare -a names cmds
add() { names+=("$1"); cmds+=("$2"); }
add "flipbench flip" "$tmp/flipbench flip $in $tmp/out-fb.jpg --quality 90"
if [ -n "${OLD:-}" ]; then add "flipbench flip ($(basename "$OLD"))" "$OLD flip $in $tmp/out-old.jpg --quality 90"; fi
# /usr/bin/convert: the real ImageMagick, not a wrapper that may shadow it.
for c in /usr/bin/convert convert; do
	if command -v "$c" >/dev/null; then add "ImageMagick convert -flip" "$c $in -flip -quality 90 $tmp/out-im.jpg"; break; fi
done
if command -v vips >/dev/null; then add "libvips vips flip" "vips flip $in $tmp/out-vips.jpg[Q=90] vertical"; fi

for ((r = 1; r <= runs; r++)); do
	for i in "${!cmds[@]}"; do
		# shellcheck disable=SC2086 # the command is words on purpose
		/usr/bin/time -f "%U %S %M" -o "$tmp/t" ${cmds[$i]} >/dev/null 2>&1
		read -r u s m <"$tmp/t"
		echo "$i $(echo "$u + $s" | bc) $m" >>"$tmp/all"
	done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "$(basename "$in"), $runs interleaved runs, medians ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo
echo "| the job | CPU (user + sys) | peak RSS |"
echo "|---|---|---|"
for i in "${!cmds[@]}"; do
	cpu=$(awk -v i="$i" '$1 == i {print $2}' "$tmp/all" | median)
	rss=$(awk -v i="$i" '$1 == i {print $3}' "$tmp/all" | median)
	printf '| %s | %.2f s | %d MB |\n' "${names[$i]}" "$cpu" "$((${rss%.*} / 1024))"
done
