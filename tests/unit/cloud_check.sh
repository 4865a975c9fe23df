#!/usr/bin/env bash
# vk check on providers/cloud.lua: a good config passes; a bad one is
# refused with FILE:LINE for each problem (vk.config); a missing
# credentials file is named.  No cloud and no cluster needed.
#   cloud_check.sh VK_BINARY SOURCE_ROOT
set -uo pipefail
vk=$1 root=$2
tmp=$(mktemp -d /tmp/vk-cloud-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
echo "1..8"
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }
run() {
	"$vk" check "$root/providers/cloud.lua" --provider-config "$1" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$tmp/err")
}
expect_err() { if grep -qF -- "$1" <<<"$err"; then ok "$2"; else notok "$2" "stderr: $err" "want: $1"; fi; }

printf 'access_key: AK\nsecret_key: SK\n' >"$tmp/creds.yaml"
sed "s|^credentials_file:.*|credentials_file: $tmp/creds.yaml|" "$root/examples/cloud.yaml" >"$tmp/good.yaml"
run "$tmp/good.yaml"
if [[ $rc == 0 && $out == "$root/providers/cloud.lua: OK (provider \"cloud\")" ]]; then ok "the example config passes"; else notok "the example config passes" "exit $rc" "$out" "$err"; fi

sed -e 's/^region: .*/region: mars-1/' -e 's/{cpu: 4, memory: \[4, 8, 16, 32\]}/{cpu: 4, memory: [4, 18, 16, 32]}/' \
	-e 's/^exact_above: .*/exact_above: -1\nbogus: 1/' "$tmp/good.yaml" >"$tmp/bad.yaml"
line_of() { grep -n -- "$1" "$tmp/bad.yaml" | cut -d: -f1 | head -1; }
run "$tmp/bad.yaml"
if [[ $rc == 1 ]]; then ok "a bad config is refused (exit 1)"; else notok "a bad config is refused (exit 1)" "exit $rc" "$out"; fi
expect_err "$tmp/bad.yaml:$(line_of '^region:'): region: \"mars-1\" is not a region this provider may use" "a region off the whitelist: file:line"
expect_err "$tmp/bad.yaml:$(line_of 'memory: \[4, 18'): specs[5].memory[3]: sizes go in increasing order (16 after 18)" "a spec table out of order: file:line of the row"
expect_err "$tmp/bad.yaml:$(line_of '^exact_above'): exact_above: a number of vCPU above 0" "a negative exact_above: file:line"
expect_err "$tmp/bad.yaml:$(line_of '^bogus'): bogus: unknown setting" "an unknown setting: file:line"

sed "s|^credentials_file:.*|credentials_file: $tmp/none.yaml|" "$tmp/good.yaml" >"$tmp/nocreds.yaml"
run "$tmp/nocreds.yaml"
expect_err "$tmp/nocreds.yaml:$(grep -n '^credentials_file' "$tmp/nocreds.yaml" | cut -d: -f1): credentials_file: vk.fs.read_file: $tmp/none.yaml: no such file" "a missing credentials file: file:line"
printf 'access_key: AK\n' >"$tmp/half.yaml"
sed "s|^credentials_file:.*|credentials_file: $tmp/half.yaml|" "$tmp/good.yaml" >"$tmp/half-config.yaml"
run "$tmp/half-config.yaml"
expect_err "credentials_file: $tmp/half.yaml: secret_key is missing" "credentials without secret_key are refused"
((failed == 0))
