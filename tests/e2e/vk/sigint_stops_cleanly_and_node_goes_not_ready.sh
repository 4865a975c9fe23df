#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# SIGINT (like SIGTERM) stops vk cleanly: exit 0, no pod deleted, and the
# node goes NotReady only once its lease runs out (the controller-manager's
# node-monitor grace period, 20 s on the test cluster).
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 6
vk_setup node
printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
pod_yaml stays "$node" | k apply -f - >/dev/null
wait_until 20 pod_is stays Running || tap_bail "pod not Running"
# Background jobs of a script ignore SIGINT; vk resets its handlers itself,
# so the signal reaches it anyway.
kill -INT "$vk_pid"
rc=0
for _ in $(seq 50); do pid_alive "$vk_pid" || break; sleep 0.1; done
wait "$vk_pid" || rc=$?
tap_is "$rc" 0 "SIGINT stops vk with exit status 0"
tap_ok "vk logged why it stopped" grep -q "Interrupt: stopping" "$tmp/vk.log"
t_stop=$(date +%s)
tap_is "$(node_ready "$node")" True "right after the stop the node is still Ready (its lease is valid)"
if wait_until 60 node_is "$node" Unknown; then
	tap_pass "the node goes NotReady (Unknown) once its lease expires, after $(($(date +%s) - t_stop)) s"
else
	tap_fail "the node goes NotReady once its lease expires" "Ready=$(node_ready "$node")"
fi
tap_is "$(pod_phase stays)" Running "the pod was not deleted"
tap_is "$(grep -c '"call":"delete_pod"' "$tmp/calls.jsonl" || true)" 0 "no delete_pod was called"
tap_done
