#!/usr/bin/env bash
# Runs tests/run.sh several times in a row while stress-ng keeps the machine
# busy beside it (--cpu 2 --io 1): the suite must stay green on a loaded
# machine.  One line per run, then a summary; the exit code is non-zero
# when any run was not green.
#
#   tests/soak.sh                      5 runs of every suite
#   tests/soak.sh --runs 3 unit        3 runs of the unit suite
#   tests/soak.sh --no-stress unit     the same runs without stress-ng
#
# Each run's logs are kept in build-test/soak-logs/run-N/ (a copy of
# build-test/test-logs/ and the run's output).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

runs=5 stress=1 suites=()
while (($#)); do
	case $1 in
	--runs) runs=${2:?--runs needs a number}; shift 2 ;;
	--runs=*) runs=${1#--runs=}; shift ;;
	--no-stress) stress=0; shift ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	-*) echo "soak: unknown option $1 (--runs N, --no-stress)" >&2; exit 2 ;;
	*) suites+=("$1"); shift ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "soak: --runs wants a positive number, not '$runs'" >&2; exit 2; }
label=${suites[*]:-all suites}

scripts/install-deps.sh || { echo "soak: installing the test packages failed" >&2; exit 1; }
# The one-time builds (10-20 minutes on a fresh machine) are not what the
# soak measures: they are made before stress-ng starts.
echo "soak: building the control plane, crictl and the e2e peers if not cached (tests/prepare.sh)"
tests/prepare.sh --e2e || { echo "soak: tests/prepare.sh failed" >&2; exit 1; }

# stress-ng is our child: stopped by its PID at the end, and its workers
# (its children) checked to be gone.
stress_pid=""
stop_stress() {
	[[ -n $stress_pid ]] || return 0
	local workers
	workers=$(pgrep -P "$stress_pid" | tr '\n' ' ')
	kill -TERM "$stress_pid" 2>/dev/null
	wait "$stress_pid" 2>/dev/null
	local w left=""
	for w in $workers; do
		[[ -e /proc/$w ]] && [[ $(awk '{ print $3 }' "/proc/$w/stat" 2>/dev/null) != Z ]] && left+=" $w"
	done
	if [[ -n $left ]]; then echo "soak: stress-ng workers still alive:$left" >&2; else echo "soak: stress-ng (pid $stress_pid) stopped"; fi
	stress_pid=""
}
trap stop_stress EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((stress)); then
	stress-ng --cpu 2 --io 1 --quiet >/dev/null 2>&1 &
	stress_pid=$!
	sleep 1
	kill -0 "$stress_pid" 2>/dev/null || { echo "soak: stress-ng did not start" >&2; exit 1; }
	echo "soak: stress-ng --cpu 2 --io 1 running (pid $stress_pid); $runs run(s) of tests/run.sh ($label)"
else
	echo "soak: no stress-ng; $runs run(s) of tests/run.sh ($label)"
fi

keep=$root/build-test/soak-logs
rm -rf "$keep"
green=0 t_all=$SECONDS
for ((i = 1; i <= runs; i++)); do
	mkdir -p "$keep/run-$i"
	t0=$SECONDS
	tests/run.sh "${suites[@]}" >"$keep/run-$i/output.log" 2>&1
	rc=$?
	last=$(tail -n 1 "$keep/run-$i/output.log")
	cp -r build-test/test-logs/. "$keep/run-$i/" 2>/dev/null
	if ((rc == 0)); then
		green=$((green + 1))
		printf 'soak: run %d/%d  green  %-40s %4d s\n' "$i" "$runs" "$last" $((SECONDS - t0))
	else
		printf 'soak: run %d/%d  RED    %-40s %4d s  (%s)\n' "$i" "$runs" "$last" $((SECONDS - t0)) "$keep/run-$i"
		grep -E '^\[tests\] FAIL' "$keep/run-$i/output.log" | sed 's/^/      /'
	fi
done
stop_stress
printf 'soak: %d of %d runs green (%s, %s) in %d s\n' "$green" "$runs" "$label" \
	"$( ((stress)) && echo "stress-ng --cpu 2 --io 1 beside them" || echo "no stress-ng")" $((SECONDS - t_all))
((green == runs))
