#!/usr/bin/env bash
# Runs vk's libFuzzer harnesses (tests/fuzz/*.c), TAP: one test per harness.
#
#   tests/fuzz/run.sh [SECONDS] [NAME...]     default 20 s each, every harness
#
# Builds them first in build-fuzz/ (clang, -Dfuzz=true: libFuzzer + ASan +
# UBSan; $VK_FUZZ_BUILD to change).  For each harness: replays every input
# in regressions/NAME/ (the crashes found so far: each must now pass), then
# fuzzes for SECONDS from the seeds in corpus/NAME/ and what earlier runs
# found (build-fuzz/corpus/NAME/, not committed).  A crash is saved as
# build-fuzz/crashes/NAME-crash-HASH; copy it to regressions/NAME/ with the
# fix.  The fuzzers run at nice 19 ($VK_FUZZ_NICE) so that others' work on a
# shared machine is not starved; $VK_FUZZ_ARGS adds libFuzzer flags.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-20}
shift $(($# ? 1 : 0))
build=${VK_FUZZ_BUILD:-$root/build-fuzz}

if [[ ! -f $build/build.ninja ]]; then
	CC=clang meson setup "$build" "$root" -Dfuzz=true -Dbuildtype=debugoptimized >"$build.setup.log" 2>&1 ||
		{ tail -n 20 "$build.setup.log"; echo "Bail out! cannot set up $build (is clang installed? scripts/install-deps.sh)"; exit 1; }
	rm -f "$build.setup.log"
fi
mkdir -p "$build"
if ! meson compile -C "$build" >"$build/compile.log" 2>&1; then
	tail -n 30 "$build/compile.log"
	echo "Bail out! the fuzzers do not build (log: $build/compile.log)"
	exit 1
fi

names=("$@")
if ((${#names[@]} == 0)); then
	for f in "$here"/*.c; do names+=("$(basename "$f" .c)"); done
fi
echo "1..${#names[@]}"
n=0 failed=0
for name in "${names[@]}"; do
	n=$((n + 1))
	bin=$build/tests/fuzz/fuzz_$name
	if [[ ! -x $bin ]]; then
		echo "not ok $n - $name: no harness $bin"
		failed=$((failed + 1))
		continue
	fi
	log=$build/logs/$name.log work=$build/corpus/$name
	mkdir -p "$build/logs" "$work" "$build/crashes"
	# Every input that once crashed runs again (libFuzzer runs files given as arguments once each).
	regs=()
	[[ -d $here/regressions/$name ]] && mapfile -t regs < <(find "$here/regressions/$name" -type f | sort)
	if ((${#regs[@]})) && ! nice -n "${VK_FUZZ_NICE:-19}" "$bin" -rss_limit_mb=2048 "${regs[@]}" >"$log.replay" 2>&1; then
		echo "not ok $n - $name: a regression input crashes again"
		grep -E 'ERROR|Running:|runtime error' "$log.replay" | tail -n 5 | sed 's/^/# /'
		failed=$((failed + 1))
		continue
	fi
	# A harness with a Lua state frees late (Lua's collector), so libFuzzer
	# would run LeakSanitizer after nearly every input; LSan stops the process
	# with ptrace, and at nice 19 on a busy machine such a stop was seen to
	# last 30 minutes.  Their leaks are checked by ASan's exit check instead.
	leaks=()
	grep -q 'lua_State' "$here/$name.c" && leaks=(-detect_leaks=0)
	# ASan records a stack trace of every malloc and free, for its reports
	# only: a third of a harness's time.  The fuzzing runs without them; a
	# crash is run once more with them (below) for its report.
	# shellcheck disable=SC2086 # VK_FUZZ_ARGS is a list of flags
	ASAN_OPTIONS=malloc_context_size=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} nice -n "${VK_FUZZ_NICE:-19}" "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 "${leaks[@]}" \
		-print_final_stats=1 -artifact_prefix="$build/crashes/$name-" ${VK_FUZZ_ARGS:-} \
		"$work" "$here/corpus/$name" >"$log" 2>&1
	rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1) # ft: the features, Lua's too (lua_cov.h)
	regs_said=""
	((${#regs[@]})) && regs_said=", ${#regs[@]} regression inputs pass"
	if ((rc == 0)); then
		# The time libFuzzer took: less than SECONDS when VK_FUZZ_ARGS=-runs=N ended it first.
		took=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -n1)
		echo "ok $n - $name: ${execs:-?} executions in ${took:-$secs} s, ${cov:-cov: ?}, no crash$regs_said"
	else
		failed=$((failed + 1))
		art=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n1)
		echo "not ok $n - $name: crashed after ${execs:-?} executions (exit $rc); input: ${art:-none saved}"
		if [[ -n $art && -f $art ]]; then
			nice -n "${VK_FUZZ_NICE:-19}" "$bin" -timeout=25 -rss_limit_mb=2048 "${leaks[@]}" "$art" >"$log.crash" 2>&1
			log=$log.crash
		fi
		grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error|#[0-9] 0x' "$log" | head -n 12 | sed 's/^/# /'
		echo "# log: $log"
	fi
done
((failed == 0))
