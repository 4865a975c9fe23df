#!/usr/bin/env bash
# A force delete (--grace-period=0 --force) still reaches delete_pod, and a
# pod re-created under the same name with a new uid while the old one is
# being deleted is created anew and left alone by the old one's deletion.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
vk_setup node
printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
calls() { grep -c "\"call\":\"$1\".*\"uid\":\"$2\"" "$tmp/calls.jsonl" 2>/dev/null || true; }
has_call() { [[ $(calls "$1" "$2") -ge 1 ]]; }
uid_of() { k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}' 2>/dev/null; }

pod_yaml forced "$node" | k apply -f - >/dev/null
wait_until 20 pod_is forced Running || tap_bail "pod not Running: $(tail -5 "$tmp/vk.log")"
u1=$(uid_of forced)
k -n "$ns" delete pod forced --grace-period=0 --force >/dev/null 2>&1
if wait_until 15 has_call delete_pod "$u1"; then tap_pass "a force-deleted pod still gets delete_pod"; else tap_fail "a force-deleted pod still gets delete_pod" "$(vk_log_tail vk)"; fi
tap_ok "the pod is gone from the API" pod_gone forced

# Same name, new uid, while the old pod is still being deleted: its
# delete_pod sleeps 4 s, and meanwhile the object is forced out of the API
# and a new pod of the same name is made.
pod_yaml twin "$node" | sed 's/^metadata: {name: twin,/metadata: {annotations: {vk-test\/delete: "sleep:4000"}, name: twin,/' | k apply -f - >/dev/null
wait_until 20 pod_is twin Running || tap_bail "twin not Running"
u_old=$(uid_of twin)
k -n "$ns" delete pod twin --wait=false >/dev/null
wait_until 10 has_call delete_pod "$u_old" || true
k -n "$ns" delete pod twin --grace-period=0 --force >/dev/null 2>&1
pod_yaml twin "$node" | k apply -f - >/dev/null
u_new=$(uid_of twin)
tap_ok "the new pod has a new uid" test "$u_new" != "$u_old"
if wait_until 20 has_call create_pod "$u_new"; then tap_pass "the new pod is created in the provider"; else tap_fail "the new pod is created in the provider" "$(vk_log_tail vk)"; fi
wait_until 20 pod_is twin Running || true
tap_is "$(pod_phase twin)" Running "the new pod is Running"
sleep 3
tap_is "$(uid_of twin)" "$u_new" "the old pod's deletion did not delete the new pod"
tap_is "$(calls delete_pod "$u_new")" 0 "no delete_pod was made for the new pod"
tap_done
