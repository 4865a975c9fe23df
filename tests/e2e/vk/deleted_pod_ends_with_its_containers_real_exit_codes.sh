#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# The last status of a deleted pod says how each container really ended,
# as kubelet's does: a container that exits on SIGTERM is terminated 0
# Completed, one that ignores it (sleep as PID 1) is killed after the grace
# period, 137 Error, a crash-looping one keeps its own exit code; the phase
# is Failed, and Succeeded for a pod whose every container exited 0.  The
# status is read from the DELETED watch event of the pod object (the object
# as vk left it).
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 8
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready"

polite='trap "exit 0" TERM; while :; do sleep 0.2; done'
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: mixed, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 2
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: polite, image: $BUSYBOX_IMAGE, command: [sh, -c, '$polite']}
  - {name: stubborn, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
  - {name: crasher, image: $BUSYBOX_IMAGE, command: [sh, -c, "exit 3"]}
---
apiVersion: v1
kind: Pod
metadata: {name: clean, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 5
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: polite, image: $BUSYBOX_IMAGE, command: [sh, -c, '$polite']}
YAML
crashed_once() {
	[[ $(k -n "$ns" get pod mixed -o jsonpath='{.status.containerStatuses[?(@.name=="crasher")].restartCount}') -ge 1 &&
		$(k -n "$ns" get pod mixed -o jsonpath='{.status.containerStatuses[?(@.name=="stubborn")].state.running.startedAt}') != "" ]]
}
wait_until 60 crashed_once || tap_bail "pod mixed did not run: $(k -n "$ns" get pod mixed -o jsonpath='{.status}')"
wait_until 60 pod_is clean Running || tap_bail "pod clean not Running"

# The watch sees the DELETED event with the last status.
k -n "$ns" get pods --watch --output-watch-events -o json >"$tmp/watch.json" 2>/dev/null &
watch_pid=$!
on_exit "kill $watch_pid 2>/dev/null"
sleep 1
k -n "$ns" delete pod mixed clean --wait=false >/dev/null
both_gone() { pod_gone mixed && pod_gone clean; }
wait_until 60 both_gone || tap_fail "the pods are deleted" "$(k -n "$ns" get pods)"
deleted_seen() { [[ $(jq -s '[.[] | select(.type == "DELETED")] | length' "$tmp/watch.json" 2>/dev/null) == 2 ]]; }
wait_until 30 deleted_seen || true
last() { # POD JQ
	jq -s -r --arg p "$1" "[.[] | select(.type == \"DELETED\" and .object.metadata.name == \$p)][0].object.status | $2" \
		"$tmp/watch.json"
}
term() { last mixed "(.containerStatuses[] | select(.name == \"$1\") | .state.terminated | \"\\(.exitCode) \\(.reason)\")"; }
tap_is "$(term polite)" "0 Completed" "a container that exits on SIGTERM: 0 Completed"
tap_is "$(term stubborn)" "137 Error" "one that ignores SIGTERM, killed after the grace period: 137 Error"
tap_is "$(term crasher)" "3 Error" "a crash-looping one: its own exit code, 3 Error"
tap_like "$(last mixed '(.containerStatuses[] | select(.name == "stubborn") | .state.terminated.finishedAt)')" \
	'^20[0-9][0-9]-' "with the time it finished"
tap_is "$(last mixed .phase)" Failed "the pod's phase is Failed"
tap_is "$(last mixed '(.conditions[] | select(.type == "Ready") | .status)')" False "and it is not Ready"
tap_is "$(last clean '.phase + " " + (.containerStatuses[0].state.terminated | "\(.exitCode) \(.reason)")')" \
	"Succeeded 0 Completed" "a pod whose containers all exit 0 is Succeeded"
tap_is "$(grep -c ProviderDeleted "$tmp/watch.json" || true)" 0 "no container says ProviderDeleted"
tap_done
