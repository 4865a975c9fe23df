#!/usr/bin/env bash
# vk check: loads a provider without a cluster, runs its init, and lists
# every problem with file:line; exits 0 with an OK line, non-zero otherwise.
#   check.sh VK_BINARY PROVIDERS_DIR
set -uo pipefail
vk=$1 dir=$2
tmp=$(mktemp -d /tmp/vk-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
echo "1..26"
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
# run FILE [ARGS]: $out (stdout), $err (stderr without log lines), $rc
run() {
	"$vk" check "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$tmp/err")
}
expect_rc() { if [[ $rc == "$1" ]]; then ok "$2"; else notok "$2" "exit $rc, want $1" "$out" "$err"; fi; }
expect_err() { if grep -qE -- "$1" <<<"$err"; then ok "$2"; else notok "$2" "stderr: $err" "want match of: $1"; fi; }
count_err() { grep -cE -- "$1" <<<"$err"; }

run "$dir/behaviours.lua"
expect_rc 0 "a good provider passes"
if [[ $out == "$dir/behaviours.lua: OK (provider \"behaviours\")" ]]; then ok "it prints one OK line naming the provider"; else notok "it prints one OK line naming the provider" "$out"; fi

run "$dir/syntax_error.lua"
expect_rc 1 "a syntax error fails"
expect_err "^$dir/syntax_error\.lua:3: .*expected near 'return'$" "a syntax error is reported with file:line"

run "$dir/missing.lua"
expect_rc 1 "missing required callbacks fail"
expect_err "^$dir/missing\.lua: the required callback delete_pod is missing" "a missing delete_pod is named with the file"
expect_err "^$dir/missing\.lua: the required callback get_pod_status is missing" "a missing get_pod_status is named too (every problem, not the first)"
expect_err "^$dir/missing\.lua: 2 problems$" "the problems are counted"

run "$dir/wrong_types.lua"
expect_rc 1 "fields of the wrong type fail"
expect_err "^$dir/wrong_types\.lua:6: get_pod_status must be a function \(it is a string\)$" "a required callback of the wrong type: file:line"
expect_err "^$dir/wrong_types\.lua:7: ping must be a function \(it is a number\)$" "an optional callback of the wrong type: file:line"
expect_err "^$dir/wrong_types\.lua:8: init must be a function \(it is a boolean\)$" "init of the wrong type: file:line"
expect_err "^$dir/wrong_types\.lua:3: name must be a string" "a name that is not a string: file:line"
expect_err "^$dir/wrong_types\.lua:9: exec must be a function \(it is a table\)$" "exec of the wrong type: file:line"
expect_err "^$dir/wrong_types\.lua:10: port_forward must be a function \(it is a string\)$" "port_forward of the wrong type: file:line"
if [[ $(count_err '^[^ ]+:[0-9]+: ') == 6 ]]; then ok "exactly the six problems are reported"; else notok "exactly the six problems are reported" "$err"; fi

run "$dir/init_error.lua"
expect_rc 1 "an init that raises an error fails"
expect_err "^$dir/init_error\.lua:5: config\.token is required$" "the init error is reported with file:line (no traceback)"
printf 'token: abc\n' >"$tmp/config.yaml"
run "$dir/init_error.lua" --provider-config "$tmp/config.yaml"
expect_rc 0 "init gets --provider-config: with the token it passes"

run "$dir/toplevel_io.lua"
expect_rc 1 "I/O at the top level fails"
expect_err "^$dir/toplevel_io\.lua:3: vk\.timer\.sleep: cannot do I/O here" "it is reported with file:line"

run "$dir/bad_name.lua"
expect_err "^$dir/bad_name\.lua:3: name \"my provider!\" cannot be the value of the node's taint" "a name that is no label value is reported"

# An init waiting on I/O that never answers: check gives up after 10 s.
run "$dir/init_hangs.lua"
expect_rc 1 "an init that never returns fails (after 10 s)"
expect_err "^$dir/init_hangs\.lua: init did not return within 10 s" "it says init did not return"

run "$tmp/nonexistent.lua"
expect_rc 1 "a file that does not exist fails"
expect_err "cannot open $tmp/nonexistent\.lua: No such file" "it is named with the reason"
((failed == 0))
