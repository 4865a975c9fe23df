#!/usr/bin/env bash
# Runs TAP test scripts one after the other and counts their results.
#
#   tests/e2e/run.sh [FILE|DIR ...]     (default: every tests/e2e/*/*.sh)
#
# Each script's TAP is shown as it runs (stderr too, for progress and log
# tails).  A script that stops early (crash, "Bail out!") counts the tests
# it planned but did not run as failed, or one failure when it had no plan.
# The last line is "N passed, N failed" plus ", N skipped" when any were.
# Exit status: 0 when nothing failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

files=()
(($#)) || set -- "$here"/*/
for a in "$@"; do
	if [[ -d $a ]]; then
		for f in "$a"/*.sh; do [[ -f $f ]] && files+=("$f"); done
	else
		files+=("$a")
	fi
done

passed=0 failed=0 skipped=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for f in "${files[@]}"; do
	echo "# ${f#"$here"/}"
	rc=0
	bash "$f" | tee "$out" || rc=$?
	p=$(grep -Ec '^ok [0-9]+' "$out" || true)
	s=$(grep -Eic '^ok [0-9]+.*# skip' "$out" || true)
	n=$(grep -Ec '^not ok [0-9]+' "$out" || true)
	plan=$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$out" | head -1)
	ran=$((p + n))
	missing=0
	if [[ -n $plan ]] && ((ran < plan)); then
		missing=$((plan - ran))
	elif ((rc != 0 && n == 0)); then
		missing=1
	fi
	if ((missing)); then
		echo "# ${f#"$here"/}: exit status $rc, $missing test(s) not run counted as failed"
	fi
	passed=$((passed + p - s))
	skipped=$((skipped + s))
	failed=$((failed + n + missing))
done

summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
