#!/usr/bin/env bash
# Who a container runs as, as kubelet 1.35 tells the CRI: runAsUser and
# runAsGroup (the container's over the pod's), fsGroup and
# supplementalGroups as extra groups; `id` inside a real container shows
# them.  runAsNonRoot with the busybox image (whose user is root) is refused
# before the container is created: it waits with CreateContainerConfigError
# and kubelet's message, a Warning Event says "Error: ...", the pod stays
# Pending; with runAsUser 1000 the same image runs.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: users, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000, 5000]}
  containers:
  - {name: pod-level, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
  - name: own
    image: $BUSYBOX_IMAGE
    command: [sleep, "3600"]
    securityContext: {runAsUser: 1001, runAsGroup: 3001, runAsNonRoot: true}
---
apiVersion: v1
kind: Pod
metadata: {name: nonroot, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
YAML
wait_until 60 pod_is users Running || tap_bail "users not Running: $(k -n "$ns" get pod users -o yaml | tail -20; vk_log_tail vk 10)"
cid_of() { # POD CONTAINER
	local uid
	uid=$(k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}')
	cri ps -q --label "io.kubernetes.pod.uid=$uid" --name "^$2\$" --state Running | head -n 1
}
tap_is "$(cri exec "$(cid_of users pod-level)" id 2>&1)" "uid=1000 gid=3000 groups=2000,3000,4000,5000" \
	"the pod's runAsUser, runAsGroup, fsGroup and supplementalGroups"
tap_is "$(cri exec "$(cid_of users own)" id 2>&1)" "uid=1001 gid=3001 groups=2000,3001,4000,5000" \
	"the container's runAsUser and runAsGroup win; runAsNonRoot with uid 1001 runs"

uid=$(k -n "$ns" get pod nonroot -o jsonpath='{.metadata.uid}')
want="container has runAsNonRoot and image will run as root (pod: \"nonroot_${ns}($uid)\", container: c)"
waiting() { [[ $(k -n "$ns" get pod nonroot -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}') == CreateContainerConfigError ]]; }
if wait_until 30 waiting; then tap_pass "runAsNonRoot on a root image: the container waits with CreateContainerConfigError"
else tap_fail "runAsNonRoot on a root image: the container waits with CreateContainerConfigError" \
	"$(k -n "$ns" get pod nonroot -o jsonpath='{.status}')" "$(vk_log_tail vk 10)"; fi
tap_is "$(k -n "$ns" get pod nonroot -o jsonpath='{.status.containerStatuses[0].state.waiting.message}')" "$want" \
	"with kubelet's message"
event() { k -n "$ns" get events --field-selector involvedObject.name=nonroot,reason=Failed,type=Warning \
	-o jsonpath='{.items[0].message}' 2>/dev/null; }
wait_until 15 event >/dev/null 2>&1 || true
tap_is "$(event)" "Error: $want" "a Warning Event Failed says it"
tap_is "$(pod_phase nonroot)" Pending "the pod stays Pending"
tap_is "$(cri ps -a -q --label "io.kubernetes.pod.uid=$uid" | wc -l)" 0 "no container was created for it"
tap_done
