#!/usr/bin/env bash
# Installs what the tests need, builds vk with ASan+UBSan, and runs every
# suite, counting TAP results across all of them.
#
#   tests/run.sh                 all suites (the fault suite with 5 kills, not 20: below)
#   tests/run.sh unit e2e        only these suites (style, unit, harness, e2e, fuzz, faults)
#   tests/run.sh faults          the fault suite (tests/faults/) in full: 20 kills
#   VK_TEST_FILTER=lease tests/run.sh e2e     only tests whose name matches
#   VK_TEST_FILTER='lease|exec' tests/run.sh e2e   ... one of these words
#   tests/run.sh --valgrind e2e  the core's e2e tests with vk under valgrind (below)
#   VK_TEST_JOBS=1 tests/run.sh  the e2e tests one at a time (default: 4 at once)
#
# Parallelism: the e2e tests run VK_TEST_JOBS (4) at a time on their shared
# control plane (each has its own node names, namespace and containerd), the
# longest of the last run first (build-test/e2e.times); a test with a line
# "# vk-test-serial" runs alone after them.  Beside them run the fuzz suite
# (its fuzzers at nice 19) and the fault suite (its scenarios one after
# another), and their control plane starts while the unit and harness
# suites run, with the style suite beside those.  Each test writes its own log and its [tests] line comes when
# it ends; the totals are counted as one at a time.  VK_TEST_JOBS=1 (and
# --valgrind) runs everything one after another, in the order of the suites.
#
# The last line is "N passed, N failed, N skipped"; the exit code is non-zero
# when anything failed.  Logs: build-test/test-logs/.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
valgrind=0
if [[ ${1:-} == --valgrind ]]; then
	valgrind=1
	shift
fi
suites=("$@")
if ((${#suites[@]} == 0)); then
	suites=(style unit harness e2e fuzz faults)
	# The default list runs the fault suite's two kill scenarios (the API
	# server, vk itself) with 5 kills instead of 20: unit and e2e take ~37
	# min on a quiet machine, the suite with 5 kills 14-17, and CI's 90
	# minutes must hold on a loaded machine too (tests/faults/README.md).
	# `tests/run.sh faults` runs the full counts; VK_FAULTS_KILLS overrides.
	export VK_FAULTS_KILLS=${VK_FAULTS_KILLS:-5}
fi

say() { echo "[tests] $*"; }

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

# The style suite needs no build, and the fuzz suite makes its own
# (build-fuzz/); every other suite needs this one.  The test build turns
# warnings into errors.
build=$root/build-test sanitize=true
# Under valgrind vk is a plain build (valgrind and ASan do not mix).
((valgrind)) && build=$root/build-valgrind sanitize=false
needs_build=0
for s in "${suites[@]}"; do [[ $s == style || $s == fuzz ]] || needs_build=1; done
if ((needs_build)); then
	# vk as it ships: linked with the HTTP(S)-only libcurl (scripts/build-curl.sh).
	curl_dir=$(scripts/build-curl.sh) || { echo "0 passed, 1 failed"; exit 1; }
	if [[ ! -f $build/build.ninja ]]; then
		meson setup "$build" -Dsanitize=$sanitize -Dbuildtype=debug -Dwerror=true -Dcurl_dir="$curl_dir" >/dev/null ||
			{ echo "0 passed, 1 failed"; exit 1; }
	elif [[ $(meson introspect "$build" --buildoptions |
		jq -r '[.[] | select(.name == "werror" or .name == "curl_dir") | "\(.name)=\(.value)"] | sort | join(" ")') != "curl_dir=$curl_dir werror=true" ]]; then
		meson setup --reconfigure "$build" -Dwerror=true -Dcurl_dir="$curl_dir" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
	fi
	if ! meson compile -C "$build" >"$build/compile.log" 2>&1; then
		tail -n 40 "$build/compile.log"
		say "build failed"
		echo "0 passed, 1 failed"
		exit 1
	fi
fi
mkdir -p "$build"
export VK_BUILD=$build VK_BIN=$build/vk VK_ROOT=$root
if ((valgrind)); then
	# tests/valgrind/vk execs valgrind on the real vk (same PID), one log per process.
	export VK_VALGRIND_BIN=$build/vk VK_VALGRIND_LOGS=$build/valgrind-logs VK_BIN=$root/tests/valgrind/vk
	rm -rf "$VK_VALGRIND_LOGS"
	mkdir -p "$VK_VALGRIND_LOGS"
	# vk runs 10-50 times slower: every wait and stop of the tests is longer.
	export VK_WAIT_MIN=${VK_WAIT_MIN:-300} VK_WAIT_SCALE=${VK_WAIT_SCALE:-3} VK_STOP_SECONDS=${VK_STOP_SECONDS:-120}
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

logs=$build/test-logs
rm -rf "$logs"
mkdir -p "$logs"
passed=0 failed=0 skipped=0
failures=()

# What the suites run besides vk (the control plane, crictl, the e2e
# tests' Go peers) is built before the first suite (tests/prepare.sh): on a
# fresh machine that takes 10-20 minutes, and a test that met the build
# first (store_etcd, a harness test, the e2e control plane) would wait for
# it under its own time limit and fail.
needs_cluster=0 prep_args=()
for s in "${suites[@]}"; do [[ $s == unit || $s == harness || $s == e2e || $s == faults ]] && needs_cluster=1; done
[[ " ${suites[*]} " == *" e2e "* ]] && prep_args=(--e2e)
if ((needs_cluster)); then
	say "tests/prepare.sh: what the suites run besides vk, built once per machine (10-20 minutes the first time; log: $logs/prepare.log)"
	if ! tests/prepare.sh "${prep_args[@]}" 2>"$logs/prepare.log"; then
		tail -n 30 "$logs/prepare.log"
		say "building the control plane or the e2e peers failed (tests/prepare.sh)"
		echo "0 passed, 1 failed"
		exit 1
	fi
fi

# VK_TEST_FILTER: words separated by "|"; a test runs when its name holds one.
wanted() { # NAME
	[[ -z ${VK_TEST_FILTER:-} ]] && return 0
	local w words
	IFS='|' read -ra words <<<"$VK_TEST_FILTER"
	for w in "${words[@]}"; do [[ -n $w && $1 == *"$w"* ]] && return 0; done
	return 1
}

# Runs one TAP-producing program and adds its results to the totals.
run_one() { # SUITE NAME TIMEOUT CMD...
	local suite=$1 name=$2 limit=$3
	shift 3
	wanted "$name" || return 0
	if ((beside_run)); then
		pool_free=1 pool_start "$suite" "$name" "$limit" "$@"
		return
	fi
	local t0=$SECONDS rc
	timeout --kill-after=10 "$limit" "$@" >"$logs/$suite.$name.log" 2>&1
	rc=$?
	count_one "$suite" "$name" "$limit" "$rc" $((SECONDS - t0))
}

# Reads the log of a test that ended with RC after SECS seconds, adds its
# TAP results to the totals and prints its [tests] line.
count_one() { # SUITE NAME TIMEOUT RC SECS
	local suite=$1 name=$2 limit=$3 rc=$4 secs=$5
	local log=$logs/$suite.$name.log
	echo "$name $secs" >>"$logs/$suite.times"
	((valgrind)) && valgrind_verdict "$log"
	local p f s
	p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
	s=$(grep -ciE '^ok [0-9]+.*# skip' "$log" | tr -d ' ')
	f=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
	local plan ran
	plan=$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$log" | head -1)
	ran=$((p + f))
	p=$((p - s))
	if ((rc == 77)) && ((ran == 0)); then
		s=1
	elif [[ -n $plan ]] && ((ran < plan)); then
		# stopped early (crash, time-out, "Bail out!"): what it did not run failed
		echo "not ok - $name ran $ran of $plan planned tests (exit $rc)" >>"$log"
		f=$((f + plan - ran))
	elif ((rc != 0 && f == 0)); then
		f=1 # crashed, timed out or failed outside a TAP line
		echo "not ok - $name exited with $rc$( ((rc == 124)) && echo " (timed out after ${limit}s)")" >>"$log"
	elif [[ -z $plan ]] && ((rc != 77)); then
		f=$((f + 1))
		echo "not ok - $name printed no TAP plan" >>"$log"
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	local status=ok
	((f)) && status=FAIL
	printf '[tests] %-5s %-10s %-55s %3d passed %2d failed %2d skipped  %3ds\n' \
		"$status" "$suite" "$name" "$p" "$f" "$s" "$secs"
	if ((f)); then
		failures+=("$log")
		grep -E '^not ok|^#' "$log" | head -n 20 | sed 's/^/    /'
		echo "    (log: $log)"
	fi
}

# A pool of tests run at once: pool_start starts a test in the background
# once fewer than POOL_JOBS run (waiting for one to end otherwise), and
# pool_drain waits for the rest.  Each test writes its own log, and
# count_one reads it when the test ends, so the [tests] lines come in the
# order the tests end and the totals are the same as one at a time.
# With pool_free=1, the test starts at once and takes no place in the pool
# (a suite run beside the e2e tests: below).
declare -A pool_name=() pool_t0=() pool_limit=() pool_frees=()
pool_start() { # SUITE NAME TIMEOUT CMD...
	local suite=$1 name=$2 limit=$3
	shift 3
	wanted "$name" || return 0
	if ((!${pool_free:-0})); then
		while ((${#pool_name[@]} - ${#pool_frees[@]} >= jobs)); do pool_reap || break; done
	fi
	timeout --kill-after=10 "$limit" "$@" >"$logs/$suite.$name.log" 2>&1 &
	pool_name[$!]=$suite.$name pool_t0[$!]=$SECONDS pool_limit[$!]=$limit
	((!${pool_free:-0})) || pool_frees[$!]=1
}

pool_reap() { # waits for one test of the pool to end and counts it
	local pid rc id
	wait -n -p pid "${!pool_name[@]}"
	rc=$?
	[[ -n ${pid:-} && -n ${pool_name[$pid]:-} ]] || return 1
	id=${pool_name[$pid]}
	count_one "${id%%.*}" "${id#*.}" "${pool_limit[$pid]}" "$rc" $((SECONDS - pool_t0[$pid]))
	unset "pool_name[$pid]" "pool_t0[$pid]" "pool_limit[$pid]" "pool_frees[$pid]"
}

pool_drain() { while ((${#pool_name[@]})); do pool_reap || break; done; }

# Interrupted: the tests running in the pool are stopped (timeout passes
# the TERM on to the test, whose exit traps stop what it started).
pool_stop() {
	local pid
	for pid in "${!pool_name[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${lane_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		pkill -TERM -P "$pid" 2>/dev/null
	done
	wait
}

# The C unit tests and the Lua checks are registered with meson; run each
# the way meson would (its command, environment and folder), but count here.
meson_suite() { # OUR_SUITE MESON_SUITE
	local name cmd env
	while IFS=$'\t' read -r name cmd env; do
		# shellcheck disable=SC2086 # $env is meson's KEY=VALUE list, one word each
		run_one "$1" "$name" 300 env $env bash -c "cd '$build' && exec $cmd"
	done < <(meson introspect "$build" --tests |
		jq -r --arg s "vk:$2" '.[] | select(.suite | index($s)) |
			[.name, (.cmd | map(@sh) | join(" ")), (.env | to_entries | map("\(.key)=\(.value)") | join(" "))] | @tsv')
}

suite_unit() { meson_suite unit unit; }

# The libFuzzer harnesses, 20 s each (tests/fuzz/run.sh: TAP, one test per
# harness, after replaying the inputs that once crashed it).
suite_fuzz() { run_one fuzz harnesses 3600 tests/fuzz/run.sh "${VK_FUZZ_SECONDS:-20}"; }

# --valgrind: after each test, every vk it ran must have ended with
# valgrind's "ERROR SUMMARY: 0 errors" (memory errors and definite leaks
# both count: tests/valgrind/vk).  A vk killed by SIGKILL leaves no summary;
# that is said, not counted.
valgrind_verdict() { # LOG
	local v n=0 bad=0
	for v in "$VK_VALGRIND_LOGS"/vk.*.log; do
		[[ -f $v ]] || continue
		n=$((n + 1))
		if grep -q 'ERROR SUMMARY: 0 errors' "$v"; then
			:
		elif grep -q 'ERROR SUMMARY:' "$v"; then
			bad=$((bad + 1))
			echo "not ok - valgrind found errors in vk ($v)" >>"$1"
			grep -E '^==[0-9]+== ([A-Z].*|   (at|by) .*)' "$v" | head -n 40 | sed 's/^/# /' >>"$1"
		else
			echo "# valgrind: no summary in $v (vk killed?)" >>"$1"
		fi
		mv "$v" "$logs/${1##*/}.$(basename "$v")"
	done
	echo "# valgrind: $n vk processes, $bad with errors" >>"$1"
}

# The core's tests, the ones --valgrind runs: their vk uses providers/mock.lua
# or a provider of tests/e2e/vk/providers/, so neither the test nor a
# helper it sources starts containerd, a store server, a cloud simulator,
# mynode or a network namespace.
core_test() { # FILE
	local f files=("$1")
	# shellcheck disable=SC2016 # the $ are the test's text, matched literally
	while read -r f; do
		[[ $f == common.bash ]] || files+=("$(dirname "$1")/$f")
	done < <(sed -nE 's#^source "\$\(dirname "\$0"\)/([a-z_]+\.bash)"#\1#p' "$1")
	# A test that cannot mean anything under valgrind says why on a line
	# "# vk-valgrind: no (...)".
	! grep -qE 'containerd_up|mynode|cloud|store-up|STORE_|redis|etcd|netns|dpkg|debian|^# vk-valgrind: no' "${files[@]}"
}

# A test may ask for a longer time limit than 900 s with a line
# "# vk-test-timeout: SECONDS".
test_limit() { # FILE
	local l
	l=$(sed -nE 's/^# vk-test-timeout: ([0-9]+)$/\1/p' "$1" | head -1)
	echo $((${l:-900} * (valgrind ? 3 : 1)))
}

# The tree's habits, one step per tool, one TAP test per file
# (tests/style.sh): a misformatted file is a failed test.
suite_style() {
	run_one style clang-format 900 tests/style.sh clang-format
	run_one style shellcheck 900 tests/style.sh shellcheck
	run_one style luacheck 900 tests/style.sh luacheck
}

suite_harness() {
	local t
	for t in tests/e2e/harness/*.sh; do
		[[ -f $t ]] || continue
		run_one harness "$(basename "$t" .sh)" "$(test_limit "$t")" bash "$t"
	done
}

# vk's end-to-end tests (tests/e2e/vk/*.sh) share one control plane (each
# test uses its own node name and namespace); the tests that need containerd
# start one of their own.
suite_e2e() {
	local t own=""
	local tests=()
	for t in tests/e2e/vk/*.sh; do [[ -f $t ]] && tests+=("$t"); done
	if ((valgrind)); then
		local core=()
		for t in "${tests[@]}"; do core_test "$t" && core+=("$t"); done
		say "--valgrind: ${#core[@]} of ${#tests[@]} e2e tests are the core's (mock or test providers)"
	fi
	((${#tests[@]})) || return 0
	# Test i is node e2e-i, and e2e-(100+i) for a second node (common.bash);
	# e2e-201 is the C clients'.  More tests need more identities.
	if ((${#tests[@]} > 100)); then
		failed=$((failed + 1))
		say "${#tests[@]} e2e tests, but node identities for 100: raise them in suite_e2e and vk_setup"
		return
	fi
	if [[ -z ${VK_TEST_CLUSTER:-} ]]; then
		[[ -n $e2e_cluster_pid ]] || e2e_cluster_start
		own=$e2e_cluster_dir
		local up_rc=0
		wait "$e2e_cluster_pid" || up_rc=$?
		e2e_cluster_pid=""
		if ((up_rc)); then
			tail -n 30 "$logs/e2e.cluster-up.log"
			failed=$((failed + 1))
			say "could not start the control plane for e2e"
			e2e_cluster_stop
			return
		fi
		export VK_TEST_CLUSTER=$own
	fi
	# shellcheck source=/dev/null
	source "$VK_TEST_CLUSTER/env"
	((valgrind)) || VK_TEST_KUBECONFIG=$ADMIN_KUBECONFIG VK_TEST_NODE_KUBECONFIG=$VK_TEST_CLUSTER/e2e-201.kubeconfig \
		VK_TEST_ETCD=$ETCD meson_suite e2e cluster
	# The tests run VK_TEST_JOBS at a time (below), the longest of the last
	# run first; a test with a line "# vk-test-serial" runs alone, after them.
	# Test i keeps its node identities (its place in the folder's order).
	local i=0 name index=() serial=() order=()
	local -A last=()
	for t in "${tests[@]}"; do
		i=$((i + 1))
		((valgrind)) && ! core_test "$t" && continue
		wanted "$(basename "$t" .sh)" || continue
		index[i]=$t
		if grep -q '^# vk-test-serial' "$t"; then serial+=("$i"); else order+=("$i"); fi
	done
	local times=$build/e2e.times
	[[ -f $times ]] && while read -r name t; do last[$name]=$t; done <"$times"
	mapfile -t order < <(for i in "${order[@]}"; do
		name=$(basename "${index[i]}" .sh)
		echo "${last[$name]:-9999} $i"
	done | sort -k1,1nr -k2,2n | cut -d' ' -f2)
	say "e2e: ${#order[@]} tests $jobs at a time (VK_TEST_JOBS), then ${#serial[@]} alone"
	for i in "${order[@]}"; do
		t=${index[i]}
		pool_start e2e "$(basename "$t" .sh)" "$(test_limit "$t")" env VK_TEST_NODE_INDEX="$i" bash "$t"
	done
	pool_drain
	for i in "${serial[@]}"; do
		t=${index[i]}
		VK_TEST_NODE_INDEX=$i run_one e2e "$(basename "$t" .sh)" "$(test_limit "$t")" bash "$t"
	done
	# Each test's time, for the order of the next run (kept for the tests
	# this run did not run).
	if [[ -f $logs/e2e.times ]]; then
		while read -r name t; do last[$name]=$t; done <"$logs/e2e.times"
		for name in "${!last[@]}"; do echo "$name ${last[$name]}"; done | sort >"$times.new" && mv "$times.new" "$times"
	fi
	if [[ -n $own ]]; then
		e2e_cluster_stop || failed=$((failed + 1))
		unset VK_TEST_CLUSTER
	fi
}

# The e2e suite's control plane (201 node identities: some 2.5 minutes of
# certificates and start-up on a loaded machine) starts in the background
# when the unit suite does, so that it is ready when the e2e tests are.
# It is brought down after them, or at exit when the run stops early.
e2e_cluster_pid="" e2e_cluster_dir=""
e2e_cluster_start() {
	e2e_cluster_dir=$(mktemp -d /tmp/vk-e2e.XXXXXX)
	# Nobody waits on it yet, so a slow start on a loaded machine may take longer.
	VK_APISERVER_WAIT=${VK_APISERVER_WAIT:-300} \
		tests/cluster/up.sh "$e2e_cluster_dir" $(seq -f 'e2e-%g' 1 201) >"$logs/e2e.cluster-up.log" 2>&1 &
	e2e_cluster_pid=$!
}
e2e_cluster_stop() {
	[[ -n $e2e_cluster_dir ]] || return 0
	if [[ -n $e2e_cluster_pid ]]; then
		kill -TERM "$e2e_cluster_pid" 2>/dev/null
		wait "$e2e_cluster_pid" 2>/dev/null
		e2e_cluster_pid=""
	fi
	local rc=0
	tests/cluster/down.sh "$e2e_cluster_dir" >"$logs/e2e.cluster-down.log" 2>&1 || rc=1
	rm -rf "$e2e_cluster_dir"
	e2e_cluster_dir=""
	return $rc
}

# The fault suite (tests/faults/): each scenario kills parts of a control
# plane and a containerd of its own, never the e2e suite's.  The Ready-again
# figures of every scenario go to test-logs/faults.figures.
suite_faults() {
	local t
	for t in tests/faults/*.sh; do
		[[ -f $t ]] || continue
		VK_FAULTS_FIGURES=$logs/faults.figures run_one faults "$(basename "$t" .sh)" "$(test_limit "$t")" \
			env -u VK_TEST_CLUSTER bash "$t"
	done
}

# A lane runs a suite's tests one after another beside the rest: a subshell
# that counts them as the main shell would and hands its totals, [tests]
# lines and failed logs over in files, which lane_join adds (and prints)
# once the lane has ended.  A TERM ends a lane after its running test has
# been stopped (pool_stop).
declare -A lane_pids=()
# shellcheck disable=SC2030 # the lane counts in its own subshell, on purpose
lane_start() { # SUITE
	local dir=$logs/$1.lane
	mkdir -p "$dir"
	(
		trap 'exit 143' TERM
		passed=0 failed=0 skipped=0 failures=() beside_run=0
		"suite_$1"
		echo "$passed $failed $skipped" >"$dir/totals"
		((${#failures[@]} == 0)) || printf '%s\n' "${failures[@]}" >"$dir/failures"
	) >"$dir/output" 2>&1 &
	lane_pids[$1]=$!
}
# shellcheck disable=SC2031 # the totals here are the main shell's; the lane's come in files
lane_join() { # SUITE...
	local suite p f s dir
	for suite in "$@"; do
		[[ -n ${lane_pids[$suite]:-} ]] || continue
		wait "${lane_pids[$suite]}"
		unset "lane_pids[$suite]"
		dir=$logs/$suite.lane
		cat "$dir/output"
		if read -r p f s <"$dir/totals" 2>/dev/null; then
			passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
		else
			failed=$((failed + 1))
			say "the $suite suite, run beside the others, ended without its totals"
		fi
		[[ -f $dir/failures ]] && mapfile -t -O "${#failures[@]}" failures <"$dir/failures"
	done
}

# The e2e tests run VK_TEST_JOBS at a time (default 4); under valgrind,
# where every vk writes its log to one folder read after each test, one.
jobs=${VK_TEST_JOBS:-4}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { say "VK_TEST_JOBS: not a number of tests: $jobs"; echo "0 passed, 1 failed"; exit 1; }
((valgrind)) && jobs=1
# With e2e in parallel, the fuzz suite (its fuzzers at nice 19, each for a
# fixed time; nothing shared) runs beside it instead of after it, and the
# fault suite (a control plane and containerd of its own per scenario) in a
# lane beside it, its scenarios one after another.  The style suite runs in
# a lane beside the unit and harness suites, and has ended before the e2e
# tests start: its steps have a time limit, and beside the e2e tests on a
# machine under stress-ng they were starved past it.
has() { [[ " ${suites[*]} " == *" $1 "* ]]; }
beside=() lanes=() early=() beside_run=0
if ((jobs > 1)); then
	has e2e && has fuzz && beside+=(fuzz)
	has e2e && has faults && lanes+=(faults)
	has style && { has unit || has harness; } && early+=(style)
fi
trap 'pool_stop; e2e_cluster_stop >/dev/null 2>&1' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for b in "${early[@]}"; do
	say "$b beside the unit and harness suites"
	lane_start "$b"
done
for s in "${suites[@]}"; do
	[[ " ${beside[*]} ${lanes[*]} ${early[*]} " == *" $s "* ]] && continue
	case $s in
	e2e)
		lane_join "${early[@]}"
		if ((${#beside[@]} + ${#lanes[@]})); then
			say "${beside[*]}${beside[*]:+ }${lanes[*]} beside the e2e tests"
			beside_run=1
			for b in "${beside[@]}"; do "suite_$b"; done
			beside_run=0
			for b in "${lanes[@]}"; do lane_start "$b"; done
		fi
		suite_e2e
		pool_drain
		lane_join "${lanes[@]}"
		;;
	unit)
		# With the tests in parallel, the e2e control plane starts now, in the
		# background (above); one at a time, nothing overlaps.
		((jobs > 1)) && has e2e && [[ -z ${VK_TEST_CLUSTER:-} && -z $e2e_cluster_pid ]] && e2e_cluster_start
		suite_unit
		;;
	style | harness | fuzz | faults) "suite_$s" ;;
	*) say "unknown suite $s (style, unit, harness, e2e, fuzz, faults)"; failed=$((failed + 1)) ;;
	esac
done
lane_join "${early[@]}" "${lanes[@]}"

if ((${#failures[@]})); then
	say "failed logs:"
	printf '    %s\n' "${failures[@]}"
fi
line="$passed passed, $failed failed"
((skipped)) && line="$line, $skipped skipped"
echo "$line"
((failed == 0))
