#!/usr/bin/env bash
# No cluster needed: --startup-timeout ends a vk that cannot register its
# node with exit 1 and one line saying so (after progress lines that say
# what it waits for); a config file's unknown key and bad value are refused
# with FILE:LINE and exit 2; flags override the file.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
tmp_dir tmp

cat >"$tmp/nowhere.kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
current-context: x
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
YAML
cat >"$tmp/vk.yaml" <<YAML
provider: $VK_ROOT/providers/mock.lua
kubeconfig: $tmp/nowhere.kubeconfig
nodename: lonely
port: 0
store: none
startup-timeout: 1h
YAML
# The flag's 3s wins over the file's 1h.
rc=0
timeout 120 "$VK_BIN" --config "$tmp/vk.yaml" --startup-timeout 3s >"$tmp/vk.log" 2>&1 || rc=$?
tap_is "$rc" 1 "--startup-timeout: vk exits 1 when the node is not registered in time"
tap_like "$(grep -c 'startup-timeout: node lonely not registered within 3000 ms' "$tmp/vk.log")" '^1$' \
	"saying so on one line"
tap_like "$(grep -m1 'waiting for the API server to register Node lonely' "$tmp/vk.log")" \
	'1 try, next in [0-9.]+ s' "after progress lines that say what it waits for"
tap_is "$(grep -c 'ERROR: AddressSanitizer\|runtime error:' "$tmp/vk.log" || true)" 0 "and no sanitizer report"

printf 'nodename: a\n# a comment\nnode-name: b\n' >"$tmp/typo.yaml"
rc=0; out=$("$VK_BIN" --provider x.lua --config "$tmp/typo.yaml" 2>&1) || rc=$?
tap_is "$rc:$out" "2:vk: $tmp/typo.yaml:3: unknown key 'node-name' (the keys are vk's long flags without '--'; see vk --help)" \
	"an unknown key is refused with FILE:LINE, exit 2"
printf 'port: 10250\nstatus-interval: often\n' >"$tmp/bad.yaml"
rc=0; out=$("$VK_BIN" --provider x.lua --config "$tmp/bad.yaml" 2>&1) || rc=$?
tap_is "$rc:$out" "2:vk: $tmp/bad.yaml:2: status-interval: expected a whole number, not a string" \
	"a value of the wrong type too"
rc=0; out=$(KUBELET_PORT=http "$VK_BIN" --provider x.lua 2>&1) || rc=$?
tap_is "$rc:$out" "2:vk: \$KUBELET_PORT (--port) takes a port number from 0 to 65535, not 'http'" \
	"a bad value in virtual-kubelet's environment is named with its variable"
tap_done
