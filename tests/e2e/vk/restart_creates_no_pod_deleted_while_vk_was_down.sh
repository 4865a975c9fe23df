#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash), link_pid/link_port by relay_start (partition.bash)
# vk with the edge cache is stopped; while it is down 60 pods are bound to
# its node and deleted again (force: no kubelet to confirm), and one more
# is bound and kept.  Restarted on its store while the API server answers,
# vk lists its pods instead of resuming the watch from the stored
# resourceVersion: the resumed watch replayed the 60 ADDED events before
# their DELETED ones, and a pod whose DELETED had not arrived yet looked
# like one to create (the fault suite's vk kills saw pods the provider had
# deleted created again).  The restarted vk reaches the API server through
# a slow relay (every chunk held 500 ms), so that a replay would come in
# pieces with syncs between them, as it did under load.  None of the 60
# reaches the provider; the kept pod is created once, the pod that ran
# before is not created again.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/partition.bash"
tap_plan 6
vk_setup node
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
vk_args=(--provider-config "$tmp/config.yaml" --store embedded --state-dir "$tmp/state")
# Both vk through the relay: the store keeps the API server's address.
relay_start link || tap_bail "the relay did not start"
relay_kubeconfig "$node" "$link_port" "$tmp/link.kubeconfig" || tap_bail "no relay kubeconfig"
export VK_KUBECONFIG=$tmp/link.kubeconfig
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"
pod_yaml before "$node" | k apply -f - >/dev/null
wait_until 30 pod_is before Running || tap_bail "pod before not Running: $(vk_log_tail vk)"
vk_stop "$vk_pid" || tap_bail "vk did not stop on SIGTERM: $(vk_log_tail vk)"

N=60
for ((i = 1; i <= N; i++)); do pod_yaml "gone-$i" "$node"; echo ---; done >"$tmp/gone.yaml"
k apply -f "$tmp/gone.yaml" >/dev/null
k -n "$ns" delete pod $(seq -f 'gone-%g' 1 "$N") --grace-period=0 --force >/dev/null 2>&1
pod_yaml after "$node" | k apply -f - >/dev/null

: >"$tmp/calls.jsonl"
kill -HUP "$link_pid" # slow: each chunk held 500 ms
vk_start vk2 "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
# Every chunk held 500 ms each way: generous, for a loaded machine.
if wait_until 120 pod_is after Running; then
	tap_pass "the pod bound while vk was down runs after the restart"
else
	tap_fail "the pod bound while vk was down runs after the restart" "$(vk_log_tail vk2)"
fi
tap_ok "the restarted vk started from the store" grep -q "pods from the store (resourceVersion [0-9]" "$tmp/vk2.log"
tap_ok "it confirmed them with a list of its pods" grep -q "listed [0-9]* pods on $node" "$tmp/vk2.log"
creates() { jq -r 'select(.call == "create_pod") | .data.key' "$tmp/calls.jsonl" | sed 's|.*/||' | sort | tr '\n' ' '; }
tap_is "$(creates)" "after " "only the kept pod is created: none of the $N deleted while vk was down, not the one that ran before"
tap_is "$(k -n "$ns" get pods -o name | sort | tr '\n' ' ')" "pod/after pod/before " "the API holds the two pods"
tap_is "$(jq -r '.[].pod.metadata.name' "$tmp/state.json" | sort | tr '\n' ' ')" "after before " "the provider runs the same two"
vk_stop "$vk2_pid" || true
tap_done
