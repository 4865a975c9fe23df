#!/usr/bin/env bash
# The resync after a hot reload also reaches a pod whose get_pod_status was
# in flight at the swap: that read ran on the replaced version, so the pod
# is read once more through the new one when it returns.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 4
vk_setup node
reload_setup
# No poll for 10 minutes: only the resyncs after the reloads read statuses.
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml" --status-interval 600000
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
# The pod's status reads wait while $hold exists: the test, not a timer,
# decides how long a read stays in flight.
hold=$tmp/hold-status-reads
pod_yaml slow "$node" | sed "s|^metadata: {name: slow,|metadata: {annotations: {vk-test/status-hold: \"$hold\"}, name: slow,|" | k apply -f - >/dev/null
wait_until 20 pod_is slow Running || tap_bail "pod not Running: $(vk_log_tail vk)"
message() { k -n "$ns" get pod slow -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'; }
read_after_create() { (($(calls get_pod_status) >= 1)); }
wait_until 20 read_after_create || tap_bail "no status read after create_pod: $(vk_log_tail vk)"
sleep 1 # nothing else reads (no poll for 10 minutes)
reads0=$(calls get_pod_status)

# Reload 1 starts a read on version one that is held; reload 2 swaps
# while it is held.
touch "$hold"
set_message "version one"
reads_started() { (($(calls get_pod_status) > reads0)); }
wait_until 20 reads_started || tap_bail "no status read after the reload: $(vk_log_tail vk)"
set_message "version two"
swapped() { (($(reloads_logged vk) >= 2)); }
wait_until 20 swapped || tap_bail "the second reload was not swapped in: $(vk_log_tail vk)"
tap_is "$(calls get_pod_status)" $((reads0 + 1)) "the second swap came while the first version's read was in flight"
rm -f "$hold" # the held read ends now

has_two() { [[ $(message) == "version two" ]]; }
if wait_until 30 has_two; then tap_pass "the pod ends with the new version's status"; else tap_fail "the pod ends with the new version's status" "message: '$(message)'" "$(vk_log_tail vk)"; fi
tap_like "$(grep '"call":"get_pod_status"' "$tmp/calls.jsonl" | tail -1)" '"message":"version two"' "the pod was read again through the new version"
sleep 2
tap_is "$(calls get_pod_status)" $((reads0 + 2)) "and read only once more (no extra reads)"
tap_done
