#!/usr/bin/env bash
# containerd's CRI can leave a task under a container it reports exited: a
# StartContainer whose context ends while the task is being created (vk
# killed in the middle of the call) marks the container exited, StartError,
# and never deletes the task.  RemovePodSandbox then fails for ever with
# FAILED_PRECONDITION "cannot delete running task", and the pod would stay
# Terminating.  That race is rare; this test makes the same state on
# purpose: a container that ran once and exited gets a task again through
# containerd's own API (ctr, in the CRI plugin's k8s.io namespace), so the
# CRI says exited while containerd runs a task.  Deleting the pod must
# still end: mynode kills and deletes the task through containerd's task
# API and removes the sandbox, and the task's process is gone.
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
command -v ctr >/dev/null || tap_bail "no ctr (Debian's containerd package ships it)"
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"
ctr_() { timeout 30 ctr --address "$CRI_SOCK" --namespace k8s.io "$@"; }

# `once` exits 0 the first time; started again it finds its mark in its
# own root file system and sleeps.
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: left, namespace: $ns}
spec:
  nodeName: $node
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
  - {name: once, image: $BUSYBOX_IMAGE, command: [sh, -c, '[ -e /ran ] && exec sleep 3600; touch /ran']}
YAML
once_done() {
	[[ $(k -n "$ns" get pod left -o jsonpath='{.status.containerStatuses[?(@.name=="once")].state.terminated.exitCode}') == 0 &&
		$(k -n "$ns" get pod left -o jsonpath='{.status.containerStatuses[?(@.name=="main")].state.running.startedAt}') != "" ]]
}
wait_until 60 once_done || tap_bail "pod left did not run: $(k -n "$ns" get pod left -o jsonpath='{.status}')"
uid=$(k -n "$ns" get pod left -o jsonpath='{.metadata.uid}')
id=$(cri ps -a -q --name '^once$' --label "io.kubernetes.pod.uid=$uid")
[[ $id =~ ^[0-9a-f]{64}$ ]] || tap_bail "no single CRI container for once: '$id'"

ctr_ tasks start -d --null-io "$id" >/dev/null || tap_bail "ctr could not start a task for $id"
task_pid=$(ctr_ tasks ls | awk -v id="$id" '$1 == id && $3 == "RUNNING" { print $2 }')
tap_ok "containerd runs a task (pid ${task_pid:-none}) under the container" test -n "$task_pid"
tap_is "$(cri inspect "$id" | jq -r .status.state)" CONTAINER_EXITED "the CRI reports that container exited"

k -n "$ns" delete pod left --wait=false >/dev/null
if wait_until 90 pod_gone left; then
	tap_pass "the pod's deletion ends"
else
	tap_fail "the pod's deletion ends" "$(vk_log_tail vk)"
fi
tap_ok "mynode says it deleted the task containerd had left behind" \
	grep -q "deleted the task containerd had left behind for container ${id:0:12} (once, CONTAINER_EXITED)" "$tmp/vk.log"
tap_is "$(ctr_ tasks ls | awk -v id="$id" '$1 == id')" "" "containerd has no task for the container any more"
tap_is "$(cri pods -q --label "io.kubernetes.pod.uid=$uid")" "" "the pod's sandbox is removed"
tap_ok "the task's process is gone" bash -c "! kill -0 $task_pid 2>/dev/null"
tap_done
