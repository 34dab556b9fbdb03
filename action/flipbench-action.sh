#!/usr/bin/env bash
# flipbench-action.sh: the body of the flipbench GitHub Action (action.yml at
# the repository root passes its inputs as INPUT_* variables).
#
# It installs a released flipbench for this runner (verified against the
# release's checksums.txt), runs `flipbench bench`, compares the run with a
# baseline run file (or, for a paired --base-exe/--head-exe or
# --base-dir/--head-dir bench, the run alone), appends the markdown verdict to $GITHUB_STEP_SUMMARY and exits
# non-zero when compare finds a regression (1) or cannot judge (2).
#
# Inputs (all optional):
#   INPUT_VERSION        release to install: latest (default), v1.2.3 or 1.2.3
#   INPUT_STANDARD_CMD   bench --standard-cmd   INPUT_CLUSTER_CMD  bench --cluster-cmd
#   INPUT_URL            bench --url            INPUT_WORKERS      bench --workers
#   INPUT_ROUNDS         bench --rounds         INPUT_ARGS         more bench flags
#   INPUT_BASE_EXE       bench --base-exe       INPUT_HEAD_EXE     bench --head-exe
#   INPUT_BASE_DIR       bench --base-dir       INPUT_HEAD_DIR     bench --head-dir
#                        (a paired bench of any server: the commands run in
#                        two checkouts)
#   INPUT_BASELINE       run file to compare the new run against
#   INPUT_COMPARE_ARGS   more compare flags (--gate, --max-regression, ...)
#   INPUT_HISTORY        a history (history add and check --db): the run is added,
#                        the history checked, its verdict summarised
#   INPUT_HISTORY_ARGS   more history check flags (--branch, --min-change, ...)
#   INPUT_OUT            run file to write (default $RUNNER_TEMP/flipbench-run.json)
#   INPUT_INSTALL_ONLY   true: install flipbench, put it on PATH, run nothing
#   FLIPBENCH_ACTION_RELEASES  where releases are: a URL laid out like GitHub's
#                        (default https://github.com/flipbench/flipbench/releases,
#                        assets at .../download/TAG/FILE and .../latest/download/FILE),
#                        or a local directory (or file:// URL) of the same layout;
#                        for mirrors and for the tests
#
# INPUT_ARGS and INPUT_COMPARE_ARGS are split into words as xargs does
# (quotes group, nothing is expanded or run): --assert 'speedup >= 1.5' works.
#
# Written for bash 3.2 too (macOS's /bin/bash): no namerefs, no mapfile, and
# empty arrays expanded as ${a[@]+"${a[@]}"} because of set -u.
set -euo pipefail

# die prints one line and exits (1 unless a code is given). On a runner the
# line is an error annotation, so it shows on the run's page, not only in the log.
die() {
	local msg=$1 code=${2:-1}
	if [ "${GITHUB_ACTIONS:-}" = true ]; then
		msg=${msg//'%'/'%25'}
		printf '::error title=flipbench::%s\n' "$msg"
	else
		printf 'flipbench-action: %s\n' "$msg" >&2
	fi
	exit "$code"
}

note() { printf 'flipbench-action: %s\n' "$*" >&2; }

# show prints the command it is given, quoted so that it can be pasted.
show() {
	printf 'flipbench-action: $ flipbench' >&2
	shift
	printf ' %q' "$@" >&2
	printf '\n' >&2
}

# output NAME VALUE sets a step output when run by a runner.
output() {
	if [ -n "${GITHUB_OUTPUT:-}" ]; then
		printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
	fi
}

# summary appends its standard input to the job summary, if there is one.
summary() {
	if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
		cat >>"$GITHUB_STEP_SUMMARY"
	else
		cat >/dev/null
	fi
}

# words STRING FILE writes STRING's words to FILE, each ended by a NUL.
words() {
	: >"$2"
	case $1 in
	*[![:space:]]*) printf '%s' "$1" | xargs printf '%s\0' >"$2" ;;
	esac
}

# fetch SOURCE DEST copies one release asset.
fetch() {
	case $1 in
	http://* | https://* | file://*) curl -fsSL --retry 3 -o "$2" "$1" ;;
	*) cp "$1" "$2" ;;
	esac
}

sha256() {
	if command -v sha256sum >/dev/null; then
		sha256sum "$1" | awk '{print tolower($1)}'
	else
		shasum -a 256 "$1" | awk '{print tolower($1)}'
	fi
}

# --- which release, for which platform --------------------------------------

# goreleaser names archives by Go's GOOS/GOARCH; the runner says Linux/macOS
# and X64/ARM64. Releases are built for linux and darwin, amd64 and arm64.
runner_os=${RUNNER_OS:-$(uname -s)}
runner_arch=${RUNNER_ARCH:-$(uname -m)}
case $runner_os in
Linux) goos=linux ;;
macOS | Darwin) goos=darwin ;;
*) die "unsupported platform: $runner_os (flipbench releases are for Linux and macOS)" ;;
esac
case $runner_arch in
X64 | x86_64 | amd64) goarch=amd64 ;;
ARM64 | arm64 | aarch64) goarch=arm64 ;;
*) die "unsupported platform: $runner_os $runner_arch (flipbench releases are for amd64 and arm64)" ;;
esac

releases=${FLIPBENCH_ACTION_RELEASES:-https://github.com/flipbench/flipbench/releases}
releases=${releases%/}
version=${INPUT_VERSION:-latest}
semver='^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$'

work=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/flipbench-action.XXXXXX")
sums=$work/checksums.txt

if [ "$version" = latest ]; then
	# The latest release's checksums.txt names its archives, and so its
	# version: no API call, no token, no rate limit. The archive is then
	# fetched by that version's tag, so that a release published in between
	# cannot pair one release's archive with another's checksums.
	fetch "$releases/latest/download/checksums.txt" "$sums" ||
		die "could not download the latest release's checksums.txt from $releases"
	suffix="_${goos}_${goarch}.tar.gz"
	archive=$(awk -v s="$suffix" '{ n = $2; sub(/^\*/, "", n) }
		index(n, "flipbench_") == 1 && length(n) > length(s) && substr(n, length(n) - length(s) + 1) == s { print n }' "$sums")
	[ -n "$archive" ] || die "the latest release has no flipbench_VERSION${suffix} in its checksums.txt (releases are for Linux and macOS, amd64 and arm64)"
	case $archive in *$'\n'*) die "the latest release's checksums.txt lists several archives for ${goos}/${goarch}" ;; esac
	version=${archive#flipbench_}
	version=${version%"$suffix"}
	[[ $version =~ $semver ]] || die "the latest release's archive $archive has no version in its name"
	tag=v$version
else
	[[ $version =~ $semver ]] || die "version must be latest or a release like v1.2.3, not '$version'" 2
	version=${version#v}
	tag=v$version
	archive=flipbench_${version}_${goos}_${goarch}.tar.gz
	fetch "$releases/download/$tag/checksums.txt" "$sums" ||
		die "could not download checksums.txt of release $tag from $releases"
fi

want=$(awk -v a="$archive" '{ n = $2; sub(/^\*/, "", n) } n == a { print tolower($1); exit }' "$sums")
[ -n "$want" ] || die "release $tag has no $archive in its checksums.txt (releases are for Linux and macOS, amd64 and arm64)"

fetch "$releases/download/$tag/$archive" "$work/$archive" ||
	die "could not download $archive of release $tag from $releases"
got=$(sha256 "$work/$archive")
[ "$got" = "$want" ] || die "checksum mismatch for $archive: checksums.txt says $want, the download is $got"

mkdir "$work/bin"
tar -xzf "$work/$archive" -C "$work/bin" flipbench || die "$archive has no flipbench binary"
exe=$work/bin/flipbench
"$exe" version || die "the installed flipbench does not run on this runner"
note "installed flipbench $tag (${goos}/${goarch}, sha256 $got) to $work/bin"
if [ -n "${GITHUB_PATH:-}" ]; then
	echo "$work/bin" >>"$GITHUB_PATH"
fi
output flipbench "$exe"
output version "$tag"

if [ "${INPUT_INSTALL_ONLY:-false}" = true ]; then
	exit 0
fi

# --- bench -------------------------------------------------------------------

baseline=${INPUT_BASELINE:-}
paired=
if [ -n "${INPUT_BASE_EXE:-}${INPUT_HEAD_EXE:-}${INPUT_BASE_DIR:-}${INPUT_HEAD_DIR:-}" ]; then
	paired=1
fi
if [ -n "$baseline" ] && [ -n "$paired" ]; then
	die "give either baseline (two runs) or base-exe and head-exe, or base-dir and head-dir (one paired run), not both" 2
fi
# A missing baseline would only be noticed by compare, after the bench.
if [ -n "$baseline" ] && [ ! -f "$baseline" ]; then
	die "baseline $baseline: no such file" 2
fi

out=${INPUT_OUT:-${RUNNER_TEMP:-.}/flipbench-run.json}
if [ "$out" = "$baseline" ]; then
	die "out and baseline are the same file, $out: the run would overwrite its baseline" 2
fi
# bench overwrites it anyway; removed first, an old file cannot pass for
# this run's when bench fails before writing one.
rm -f "$out"
bench=(bench)
[ -z "${INPUT_STANDARD_CMD:-}" ] || bench+=(--standard-cmd "$INPUT_STANDARD_CMD")
[ -z "${INPUT_CLUSTER_CMD:-}" ] || bench+=(--cluster-cmd "$INPUT_CLUSTER_CMD")
[ -z "${INPUT_URL:-}" ] || bench+=(--url "$INPUT_URL")
[ -z "${INPUT_WORKERS:-}" ] || bench+=(--workers "$INPUT_WORKERS")
[ -z "${INPUT_ROUNDS:-}" ] || bench+=(--rounds "$INPUT_ROUNDS")
[ -z "${INPUT_BASE_EXE:-}" ] || bench+=(--base-exe "$INPUT_BASE_EXE")
[ -z "${INPUT_HEAD_EXE:-}" ] || bench+=(--head-exe "$INPUT_HEAD_EXE")
[ -z "${INPUT_BASE_DIR:-}" ] || bench+=(--base-dir "$INPUT_BASE_DIR")
[ -z "${INPUT_HEAD_DIR:-}" ] || bench+=(--head-dir "$INPUT_HEAD_DIR")
words "${INPUT_ARGS:-}" "$work/args" || die "args: unbalanced quotes in '${INPUT_ARGS:-}'" 2
while IFS= read -r -d '' w; do bench+=("$w"); done <"$work/args"
# Last, so that they win over the same flags in args: the action owns the
# run file's path and what goes to the summary.
bench+=(--out "$out" --format markdown)

show "$exe" "${bench[@]}"
set +e
"$exe" "${bench[@]}" | tee "$work/bench.md"
bench_code=${PIPESTATUS[0]}
set -e
# Interrupted (3) or not, whatever bench wrote is worth keeping.
if [ -f "$out" ]; then
	output run-file "$out"
fi
# 1 is failed requests or a failed --assert: the run file is written, and
# compare still gives its verdict (it fails on head's errors itself).
case $bench_code in
0 | 1) ;;
*) die "flipbench bench exited $bench_code" "$bench_code" ;;
esac
[ -f "$out" ] || die "flipbench bench wrote no run file $out"

# --- history -----------------------------------------------------------------

# judge NAME EXTRA ARGS... runs flipbench ARGS, then EXTRA's words (the
# input NAME-args, split as words does) and --format markdown: a verdict.
# Its output is kept in $work/NAME.md and .err and echoed, its exit code
# put in judged.
judged=0
judge() {
	local name=$1 extra=$2 w
	shift 2
	local cmd=("$@")
	words "$extra" "$work/$name-args" || die "$name-args: unbalanced quotes in '$extra'" 2
	while IFS= read -r -d '' w; do cmd+=("$w"); done <"$work/$name-args"
	cmd+=(--format markdown)
	show "$exe" "${cmd[@]}"
	set +e
	"$exe" "${cmd[@]}" >"$work/$name.md" 2>"$work/$name.err"
	judged=$?
	set -e
	cat "$work/$name.md"
	cat "$work/$name.err" >&2
}

# history_step adds the run to INPUT_HISTORY and checks the history: its
# markdown goes to the summary, its verdict to history-verdict, and
# history_code is check's exit code.
history_code=0
history_step() {
	local db=$INPUT_HISTORY
	# A URL's password must stay masked however the log quotes it.
	if [ "${GITHUB_ACTIONS:-}" = true ]; then
		printf '::add-mask::%s\n::add-mask::%q\n' "$db" "$db"
	fi
	show "$exe" history add "$out" --db "$db"
	"$exe" history add "$out" --db "$db" >&2 || die "flipbench history add failed (see above)" 2
	judge history "${INPUT_HISTORY_ARGS:-}" history check --db "$db"
	history_code=$judged
	# Exit 1 with no FAIL line is check failing to read the history, not
	# a regression.
	if [ "$history_code" = 1 ] && ! grep -q '^FAIL: ' "$work/history.md"; then
		history_code=4
	fi
	case $history_code in
	0 | 1)
		if [ "$history_code" = 0 ]; then
			output history-verdict pass
		else
			output history-verdict regression
		fi
		summary <"$work/history.md"
		;;
	*)
		output history-verdict error
		{ printf '### flipbench history check: error\n\n~~~\n'; cat "$work/history.err"; printf '~~~\n'; } | summary
		;;
	esac
}

# history_verdict fails the job when history check found a regression or
# could not judge; it runs last, after compare's verdict.
history_verdict() {
	case $history_code in
	0) ;;
	1) die "flipbench history check: a gated series regressed (see the job summary)" ;;
	*) die "flipbench history check could not judge (exit $history_code): $(head -n 1 "$work/history.err")" "$history_code" ;;
	esac
}

if [ -n "${INPUT_HISTORY:-}" ]; then
	history_step
else
	output history-verdict none
fi

if [ -z "$baseline" ] && [ -z "$paired" ]; then
	summary <"$work/bench.md"
	output verdict none
	if [ "$bench_code" != 0 ]; then
		die "flipbench bench: some requests failed or an --assert failed"
	fi
	history_verdict
	exit 0
fi

# --- compare -----------------------------------------------------------------

compare=(compare)
if [ -n "$paired" ]; then
	compare+=("$out")
else
	compare+=("$baseline" "$out")
fi
judge compare "${INPUT_COMPARE_ARGS:-}" "${compare[@]}"
compare_code=$judged

case $compare_code in
0 | 1) cat "$work/compare.md" ;;
*)
	printf '### flipbench compare: error\n\n~~~\n'
	cat "$work/compare.err"
	printf '~~~\n'
	;;
esac | summary
{
	printf '\n<details><summary>flipbench bench: this run</summary>\n\n'
	cat "$work/bench.md"
	printf '\n</details>\n'
} | summary

case $compare_code in
0)
	output verdict pass
	if [ "$bench_code" != 0 ]; then
		die "flipbench bench: some requests failed or an --assert failed"
	fi
	history_verdict
	;;
1)
	output verdict regression
	die "flipbench compare: a gated metric regressed or head had failed requests (see the job summary)"
	;;
*)
	output verdict error
	msg=$(head -n 1 "$work/compare.err")
	die "flipbench compare could not judge (exit $compare_code): ${msg:-no message}" "$compare_code"
	;;
esac
