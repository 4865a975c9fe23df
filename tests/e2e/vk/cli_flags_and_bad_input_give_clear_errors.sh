#!/usr/bin/env bash
# The command line: --help names the flags, --version prints the version, an
# unknown flag is one line and exit 2; a malformed kubeconfig or provider
# config is one line naming the file and the field; a missing or broken
# provider is named with file:line.  No cluster needed.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 15
tmp_dir tmp

help=$("$VK_BIN" --help)
missing=""
for f in --provider --provider-config --kubeconfig --nodename --disable-taint --status-interval \
	--state-dir --store --listen-address --port --no-reload --log-level --version --anonymous-auth \
	--config --log-format --metrics-addr --namespace --os --node-ip --startup-timeout --full-resync-period; do
	grep -q -- "$f" <<<"$help" || missing+=" $f"
done
tap_is "$missing" "" "--help lists every flag of the design"
tap_like "$("$VK_BIN" --version)" '^vk [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version"

rc=0; out=$("$VK_BIN" --bogus 2>&1) || rc=$?
tap_is "$rc" 2 "an unknown flag exits with 2"
tap_is "$(wc -l <<<"$out")" 1 "with one line"
tap_like "$out" "unknown flag '--bogus'" "that names the flag"
rc=0; out=$("$VK_BIN" --provider x.lua --port 99999 2>&1) || rc=$?
tap_is "$rc:$(wc -l <<<"$out")" "2:1" "a bad flag value is one line and exit 2 ($out)"
rc=0; out=$("$VK_BIN" --provider x.lua --anonymous-auth=maybe 2>&1) || rc=$?
tap_is "$rc:$out" "2:vk: --anonymous-auth takes true or false, not 'maybe' (see vk --help)" \
	"a bad --anonymous-auth value is named on one line, exit 2"

cat >"$tmp/bad.kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1", certificate-authority-data: "not base64!"}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
YAML
rc=0; out=$("$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --kubeconfig "$tmp/bad.kubeconfig" --nodename n 2>&1) || rc=$?
tap_is "$rc:$(wc -l <<<"$out")" "1:1" "a malformed kubeconfig is one line and exit 1"
tap_like "$out" "bad.kubeconfig: clusters\[0\]\.cluster\.certificate-authority-data: " "it names the file and the field ($out)"
printf 'current-context: nowhere\n' >"$tmp/ctx.kubeconfig"
out=$("$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --kubeconfig "$tmp/ctx.kubeconfig" --nodename n 2>&1) || true
tap_like "$out" 'ctx.kubeconfig: .*nowhere' "a missing context is named ($out)"
out=$("$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --kubeconfig "$tmp/none.kubeconfig" --nodename n 2>&1) || true
tap_like "$out" 'none.kubeconfig: No such file' "a missing kubeconfig is named ($out)"

printf 'cpu: [1, 2\n' >"$tmp/bad.yaml"
out=$("$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/bad.yaml" --kubeconfig "$tmp/bad.kubeconfig" 2>&1) || true
tap_like "$out" 'bad.yaml: line [0-9]+' "a malformed provider config names the file and line ($out)"

rc=0; out=$("$VK_BIN" check "$tmp/nope.lua" 2>&1) || rc=$?
tap_like "$rc:$out" "^[1-9][0-9]*:.*nope.lua" "vk check names a missing provider file"
printf 'local P = {}\nfunction P.create_pod(p)\n  return (\nend\nreturn P\n' >"$tmp/syntax.lua"
rc=0; out=$("$VK_BIN" check "$tmp/syntax.lua" 2>&1) || rc=$?
tap_like "$rc:$out" "^[1-9][0-9]*:.*syntax.lua:[0-9]+:" "vk check gives a syntax error with file:line"
rc=0; out=$("$VK_BIN" check "$VK_ROOT/providers/mock.lua" 2>&1) || rc=$?
tap_is "$rc" 0 "vk check accepts providers/mock.lua ($out)"
tap_done
