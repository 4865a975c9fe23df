#!/usr/bin/env bash
# Status: a created pod's status is written at once (not by a poll); one
# that does not notify is polled at --status-interval; an unchanged status
# is not written again.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 5
vk_setup node
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --status-interval 3000
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

# A watch on the namespace's pods records every write with the time it saw it.
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" get pods --watch --output-watch-events -o json >"$tmp/watch.json" 2>/dev/null &
watch_pid=$!
on_exit "kill $watch_pid 2>/dev/null"
sleep 1

# Every status read of this pod is held until vk stops: a read cannot bring
# its Running, whatever the time it takes on a busy machine.  Only the
# recorder's vk.notify can, which comes inside create_pod, before it
# returns: vk keeps it and writes it once the create is done.
touch "$tmp/hold"
t0=$(date +%s%N)
pod_yaml pushed "$node" | sed "s|^metadata: {name: pushed,|metadata: {annotations: {vk-test/status-hold: \"$tmp/hold\", vk-test/status-hold-after: \"0\"}, name: pushed,|" | k apply -f - >/dev/null
wait_until 30 pod_is pushed Running || true
t_push=$((($(date +%s%N) - t0) / 1000000))
if [[ $(pod_phase pushed) == Running ]]; then tap_pass "a created pod's status is written at once, not by a poll ($t_push ms to Running)"; else tap_fail "a created pod's status is written at once, not by a poll" "phase '$(pod_phase pushed)' after $t_push ms"; fi

t0=$(date +%s%N)
# This pod says Pending for 1 s after create_pod and never notifies: only the
# poll every 3 s can see it go Running, never before 1 s (a busy machine
# can only make it later).
pod_yaml polled "$node" | sed 's/^metadata: {name: polled,/metadata: {annotations: {vk-test\/notify: "no", vk-test\/running-after: "1000"}, name: polled,/' | k apply -f - >/dev/null
wait_until 30 pod_is polled Running || true
t_poll=$((($(date +%s%N) - t0) / 1000000))
tap_is "$(pod_phase polled)" Running "a provider that does not notify is polled"
if ((t_poll >= 1000)); then tap_pass "the polled status arrives on a poll, not before the provider says Running ($t_poll ms)"; else tap_fail "the polled status arrives on a poll, not before the provider says Running" "took $t_poll ms"; fi

# Let several poll intervals pass: no further writes to either pod.
before=$(jq -s '[.[] | select(.type=="MODIFIED")] | length' "$tmp/watch.json")
sleep 10
after=$(jq -s '[.[] | select(.type=="MODIFIED")] | length' "$tmp/watch.json")
tap_is "$((after - before))" 0 "an unchanged status is not written again over 3 intervals"
rv1=$(k -n "$ns" get pod pushed -o jsonpath='{.metadata.resourceVersion}')
sleep 4
tap_is "$(k -n "$ns" get pod pushed -o jsonpath='{.metadata.resourceVersion}')" "$rv1" "the pod's resourceVersion stays put"
tap_done
