#!/usr/bin/env bash
# vk test, the provider test kit: runs the kit's own specs (tests/kit/) and
# checks the TAP it prints, the file:line of each failure and the exit code.
#   kit.sh VK_BINARY KIT_DIR
set -uo pipefail
vk=$1 dir=$2
tmp=$(mktemp -d /tmp/vk-kit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
echo "1..18"
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
# run ARGS: $out (stdout: the TAP), $rc
run() {
	"$vk" test "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
}
expect_rc() { if [[ $rc == "$1" ]]; then ok "$2"; else notok "$2" "exit $rc, want $1" "$out"; fi; }
expect_out() { if grep -qxE -- "$1" <<<"$out"; then ok "$2"; else notok "$2" "want a line matching: $1" "$out"; fi; }

run "$dir/backoff_spec.lua"
expect_rc 0 "a spec whose tests all pass exits 0"
expect_out "ok 2 - a provider that backs off for 5 minutes > retries after 5 minutes of virtual time, at once" \
	"the 5-minute backoff runs on the virtual clock, at once (the spec checks the clock moved 5 min)"
expect_out "1\.\.5" "one TAP line per it, the plan last"

run "$dir/failing_spec.lua"
expect_rc 1 "a spec with a failing test exits 1"
expect_out "ok 1 - failures > passes" "a passing it in the same file is still ok"
expect_out "not ok 2 - failures > a failed expect" "a failed expect is not ok"
expect_out "# $dir/failing_spec\.lua:6: expected 4 to be 5" "a failed expect names the spec's file:line and both values"
expect_out "# $dir/failing_spec\.lua:10: attempt to index a nil value \(local 't'\)" "an error in a test gives its file:line"
expect_out "# $dir/failing_spec\.lua:13: expect\(\.\.\.\) without a matcher checks nothing.*" \
	"an expect(v) never checked fails its test (it could not fail)"
expect_out "# $dir/failing_spec\.lua:16: no mock matches GET http://nowhere\.test/x .*" \
	"a call no mock answers fails its test, at the line that made it"
expect_out "1\.\.5" "the plan counts every it"

run "$dir/load_error_spec.lua"
expect_rc 1 "a spec that errors while it loads exits 1"
expect_out "not ok 1 - load_error_spec\.lua loads" "a load error is a failed test"
expect_out "# $dir/load_error_spec\.lua:6: attempt to index a nil value \(local 'x'\)" "a load error gives file:line"

run "$dir/backoff_spec.lua" "$dir/failing_spec.lua"
expect_out "not ok 7 - failures > a failed expect" "several specs share one numbering"

run "$dir/no_such_spec.lua"
if [[ $rc == 1 ]] && grep -q "no_such_spec.lua" <<<"$out"; then ok "a missing spec file is a failed test naming it"; else notok "a missing spec file is a failed test naming it" "exit $rc" "$out"; fi

run
expect_rc 2 "vk test without a spec is a usage error"

run --help
if [[ $rc == 0 ]] && grep -q "^usage: vk test SPEC.lua" <<<"$out" && grep -q "describe/it/expect" <<<"$out"; then
	ok "vk test --help prints its usage"
else
	notok "vk test --help prints its usage" "exit $rc" "$out"
fi
