#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# vk with providers/mynode.lua on the real control plane and a real
# containerd: the seed's Deployment critest reaches 1/1 Running and its
# container really runs (crictl); a crashing container shows a growing
# restartCount and CrashLoopBackOff; exit 0 under Never is Succeeded; a
# missing image gives ErrImagePull/ImagePullBackOff and an Event; env and
# configMap/secret volumes are visible inside; a vk restart recreates no
# container; containerd restarted under running pods changes nothing and vk
# carries on; deleting everything leaves no sandbox.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 14
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 15 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

on_node() { # the manifest on stdin, pinned to this node and namespace
	sed -e "s/{type: virtual-kubelet}/{kubernetes.io\/hostname: $node}/" | k -n "$ns" apply -f - >/dev/null
}
on_node <"$VK_ROOT/examples/critest.yaml"
ready() { [[ $(k -n "$ns" get deploy critest -o jsonpath='{.status.readyReplicas}') == 1 ]]; }
if wait_until 60 ready; then tap_pass "Deployment critest reaches 1/1 ready on the vk node"
else tap_fail "Deployment critest reaches 1/1 ready on the vk node" "$(k -n "$ns" get pods -o wide)" "$(vk_log_tail vk)"; fi
pod=$(k -n "$ns" get pods -l app=critest -o jsonpath='{.items[0].metadata.name}')
uid=$(k -n "$ns" get pod "$pod" -o jsonpath='{.metadata.uid}')
cid=$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --state Running 2>/dev/null | head -1)
tap_like "$(cri inspect -o go-template --template '{{.status.state}}' "$cid" 2>&1)" "CONTAINER_RUNNING" \
	"its container is running in containerd, as the CRI says"
tap_is "$(k -n "$ns" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')" "containerd://$cid" \
	"the pod's status names that container"

# env and volumes, seen from inside
k -n "$ns" create configmap app-config --from-literal=app.conf=color=blue >/dev/null
k -n "$ns" create secret generic app-secret --from-literal=password=s3cr3t >/dev/null
on_node <<YAML
apiVersion: v1
kind: Pod
metadata: {name: envvol}
spec:
  nodeSelector: {type: virtual-kubelet}
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    env:
    - {name: PLAIN, value: hello}
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: app-config, key: app.conf}}
    volumeMounts:
    - {name: cfg, mountPath: /etc/app}
    - {name: sec, mountPath: /etc/sec}
  volumes:
  - {name: cfg, configMap: {name: app-config}}
  - {name: sec, secret: {secretName: app-secret}}
YAML
wait_until 60 pod_is envvol Running || true
euid=$(k -n "$ns" get pod envvol -o jsonpath='{.metadata.uid}')
ecid=$(cri ps -q --label "io.kubernetes.pod.uid=$euid" 2>/dev/null | head -1)
# shellcheck disable=SC2016 # expanded by the shell in the container
tap_is "$(cri exec "$ecid" sh -c 'echo "$PLAIN $FROM_CM"; cat /etc/app/app.conf; echo; cat /etc/sec/password' 2>&1)" \
	"hello color=blue
color=blue
s3cr3t" "env values and configMap/secret volumes are visible inside the container"

on_node <<YAML
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeSelector: {type: virtual-kubelet}
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers: [{name: c, image: docker.io/library/busybox:1.35, command: [sh, -c, "exit 1"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  nodeSelector: {type: virtual-kubelet}
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers: [{name: c, image: docker.io/library/busybox:1.35, command: [sh, -c, "exit 0"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  nodeSelector: {type: virtual-kubelet}
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers: [{name: c, image: 127.0.0.1:9/none:1}]
YAML
crashloop() {
	[[ $(k -n "$ns" get pod crash -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}') == CrashLoopBackOff &&
		$(k -n "$ns" get pod crash -o jsonpath='{.status.containerStatuses[0].restartCount}') -ge 1 ]]
}
if wait_until 40 crashloop; then tap_pass "exit 1 under Always: restartCount grows, CrashLoopBackOff"
else tap_fail "exit 1 under Always: restartCount grows, CrashLoopBackOff" "$(k -n "$ns" get pod crash -o jsonpath='{.status}')"; fi
if wait_until 40 pod_is once Succeeded; then tap_pass "exit 0 under Never: Succeeded"
else tap_fail "exit 0 under Never: Succeeded" "$(k -n "$ns" get pod once -o jsonpath='{.status}')"; fi
pull_reason() { k -n "$ns" get pod noimage -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}'; }
pull_failing() { [[ $(pull_reason) =~ ^(ErrImagePull|ImagePullBackOff)$ ]]; }
if wait_until 40 pull_failing; then tap_pass "a missing image: waiting reason $(pull_reason)"
else tap_fail "a missing image: ErrImagePull or ImagePullBackOff" "$(k -n "$ns" get pod noimage -o jsonpath='{.status}')"; fi
tap_like "$(k -n "$ns" get events --field-selector involvedObject.name=noimage -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')" \
	"ErrImagePull" "an Event tells about the failed pull"
tap_ok "vk keeps running" pid_alive "$vk_pid"

# A restart of vk recreates nothing: same container IDs.
before=$(cri ps -a -q --label "vk.io/node=$node" | sort)
vk_stop "$vk_pid" || true
vk_start vk2 "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 15 node_is "$node" True || true
sleep 5
after_running=$(cri ps -q --label "vk.io/node=$node" --label "io.kubernetes.pod.uid=$uid")
tap_is "$after_running" "$cid" "after a vk restart critest runs in the same container"
# (crash keeps restarting by design: compare the others)
new=$(comm -13 <(echo "$before") <(cri ps -a -q --label "vk.io/node=$node" | sort) | while read -r c; do
	[[ -n $c ]] && cri inspect -o go-template --template '{{index .status.labels "io.kubernetes.pod.name"}}{{"\n"}}' "$c"
done | grep -v '^crash$' || true)
tap_is "$new" "" "and no other container was created"

# containerd restarted while pods run: the shims keep the containers; vk
# reconnects (fresh connection per call) and keeps reporting them.
# restart.sh stops it by its recorded PID and start time, stays down 2 s
# (vk sees the runtime gone, UNAVAILABLE, for a couple of rounds) and starts
# it again with the same command line.
"$VK_CLUSTER/restart.sh" "$CONTAINERD_DIR" containerd 2 >/dev/null 2>&1 ||
	tap_bail "containerd could not be restarted"
cri_up() { cri version >/dev/null 2>&1; }
wait_until 30 cri_up || tap_bail "containerd did not come back"
sleep 3
tap_is "$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --state Running):$(pod_phase "$pod")" "$cid:Running" \
	"after a containerd restart critest still runs in its container and is reported Running"
on_node <<YAML
apiVersion: v1
kind: Pod
metadata: {name: after-restart}
spec:
  nodeSelector: {type: virtual-kubelet}
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}]
YAML
if wait_until 30 pod_is after-restart Running; then tap_pass "a pod created after the containerd restart runs"
else tap_fail "a pod created after the containerd restart runs" "$(k -n "$ns" get pod after-restart -o jsonpath='{.status}')" "$(vk_log_tail vk2)"; fi

k -n "$ns" delete deploy critest --wait=false >/dev/null
k -n "$ns" delete pod envvol crash once noimage after-restart --wait=false >/dev/null
none_left() { [[ -z $(cri pods -q --label "vk.io/node=$node") && -z $(k -n "$ns" get pods -o name) ]]; }
if wait_until 90 none_left; then tap_pass "deleting the pods leaves no sandbox in containerd"
else tap_fail "deleting the pods leaves no sandbox in containerd" "$(cri pods)" "$(k -n "$ns" get pods)"; fi
tap_done
