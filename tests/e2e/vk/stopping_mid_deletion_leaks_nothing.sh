#!/usr/bin/env bash
# vk stopped (SIGTERM) while a pod's deletion waits on the API server: the
# terminal status write is in flight into a frozen link.  The kube client
# frees its calls without calling back, so the pod controller cancels its
# own writes and DELETEs and frees what they carried; vk exits cleanly with
# no sanitizer report (a leaked sync job was seen once at this moment).
# shellcheck disable=SC2154 # api_port by relay_start, vk_pid by vk_start
set -euo pipefail
source "$(dirname "$0")/partition.bash"
tap_plan 4
vk_setup node
relay_start api || tap_bail "the relay did not start"
relay_kubeconfig "$node" "$api_port" "$tmp/relay.kubeconfig"
printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
VK_KUBECONFIG="$tmp/relay.kubeconfig" vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" \
	--provider-config "$tmp/config.yaml"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"

pod_yaml slow "$node" | sed 's/^metadata: {name: slow,/metadata: {annotations: {vk-test\/delete: "sleep:3000"}, name: slow,/' |
	k apply -f - >/dev/null
wait_until 30 pod_is slow Running || tap_bail "slow not Running: $(vk_log_tail vk)"
k -n "$ns" delete pod slow --wait=false >/dev/null
delete_called() { grep -q '"delete_pod"' "$tmp/calls.jsonl"; }
wait_until 30 delete_called || tap_bail "delete_pod was not called: $(vk_log_tail vk)"
# delete_pod sleeps 3 s; the link goes black meanwhile, so the terminal
# status that follows it waits on a connection that never answers.
relay_freeze api
provider_done() { grep -q "$ns/slow: deleted from the provider" "$tmp/vk.log"; }
if wait_until 30 provider_done; then tap_pass "delete_pod returned; the terminal status goes into the frozen link"; else tap_fail "delete_pod returned" "$(vk_log_tail vk)"; fi
tap_ok "the pod is not yet deleted from the API (its write is in flight)" \
	bash -c "! grep -q '$ns/slow: deleted from the API' '$tmp/vk.log'"
rc=0
vk_stop "$vk_pid" || rc=$?
tap_is "$rc" 0 "vk stops cleanly with the write in flight"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/vk.log"; then
	tap_fail "no sanitizer report" "$(grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/vk.log" | head -30)"
else
	tap_pass "no sanitizer report (nothing leaked)"
fi
relay_thaw api
tap_done
