#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: tmp by tmp_dir (lib.sh)
# Smoke test of the benchmark harness, as TAP: `run.sh --smoke` (N = 20,
# one round, short idle) runs to the end, its table has numeric figures for
# vk, upstream virtual-kubelet and the raw ceiling, it draws the plot, and it
# leaves no process of its own behind.  It checks that the harness works, not
# how fast vk is.  Takes about a minute once the binaries are cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"

tap_plan 8
tmp_dir tmp
rc=0
mkdir -p "$tmp/t"
# run.sh's own temporary folder (cluster, agents) under ours, to find leftovers.
TMPDIR=$tmp/t "$here/run.sh" --smoke --out "$tmp/results" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
if ((rc == 0)); then tap_pass "run.sh --smoke exits 0"; else tap_fail "run.sh --smoke exits 0" "exit $rc" "$(tail -n 30 "$tmp/stderr")"; fi

mds=("$tmp/results/"*-N20.md)
md=${mds[0]}
tap_ok "it writes the table under --out" test -s "$md"
png_magic() { [[ $(head -c 4 "$1" 2>/dev/null | tail -c 3) == PNG ]]; }
tap_ok "it draws the plot as a PNG" png_magic "${md%.md}.png"

# A row's cells after the label: the agents need every figure, the ceiling
# the throughput and latency ones (it has no process to measure).
row_numeric() { # LABEL FIRST_N
	local line
	line=$(grep -F "| $1 |" "$tmp/stdout" | head -1) || return 1
	awk -F'|' -v n="$2" '{ for (i = 3; i < 3 + n; i++) { gsub(/ /, "", $i); if ($i !~ /^[0-9]+(\.[0-9]+)?$/) exit 1 } }' <<<"$line"
}
tap_ok "the vk row has a number for every figure" row_numeric vk 16
tap_ok "the upstream row has a number for every figure" row_numeric "upstream virtual-kubelet" 16
tap_ok "the raw ceiling row has numbers for throughput and latency" row_numeric "raw API ceiling" 7
tap_ok "the minimal ceiling row has them too" row_numeric "raw API ceiling, minimal writes" 7

# Everything run.sh started had its temporary folder in its command line.
left=$(pgrep -af -- "$tmp" | grep -v -e "^$$ " || true)
tap_is "$left" "" "no process of the run is left"
tap_done
