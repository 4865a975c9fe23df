#!/usr/bin/env bash
# activeDeadlineSeconds on mynode: a pod active longer than its deadline
# (counted from status.startTime) becomes Failed with reason
# DeadlineExceeded, as kubelet reports it; its containers are stopped and
# not restarted, whatever the restartPolicy; a pod within its deadline
# keeps running.  On a busy machine the 4 s can pass before the container
# is even created: it then ends terminated with ContainerStatusUnknown and
# exit code 137, as kubelet's status manager ends it.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 7
mynode_up

apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: short}
spec:
  nodeName: NODE
  tolerations: TOL
  activeDeadlineSeconds: 4
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: long}
spec:
  nodeName: NODE
  tolerations: TOL
  activeDeadlineSeconds: 36000
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  nodeName: NODE
  tolerations: TOL
  activeDeadlineSeconds: 3
  containers:
  - {name: c, image: 127.0.0.1:9/vk-test/none:1}
YAML

failed() { [[ $(jp short '{.status.phase}/{.status.reason}') == Failed/DeadlineExceeded ]]; }
if wait_until 120 failed; then tap_pass "past its deadline the pod is Failed with reason DeadlineExceeded"
else tap_fail "past its deadline the pod is Failed with reason DeadlineExceeded" "$(jp short '{.status}')"; fi
tap_is "$(jp short '{.status.message}')" "Pod was active on the node longer than the specified deadline" "with kubelet's message"
stopped() { [[ -n $(cst short c '.state.terminated.exitCode') ]]; }
if wait_until 60 stopped; then tap_pass "its container is stopped"
else tap_fail "its container is stopped" "$(jp short '{.status.containerStatuses}')"; fi
# Its image never pulled (nothing listens on port 9): no container was
# created when the deadline came.
never_ended() { [[ $(jp never '{.status.phase}/{.status.reason}') == Failed/DeadlineExceeded ]]; }
wait_until 120 never_ended || true
tap_is "$(jp never '{.status.phase}/{.status.reason}') $(cst never c .state.terminated.reason):$(cst never c .state.terminated.exitCode)" \
	"Failed/DeadlineExceeded ContainerStatusUnknown:137" "a container never created at the deadline ends as kubelet ends it"
# A restart would come at once (the first restart is immediate) on the
# next supervisor round (300 ms): several rounds later, none came.  (On a
# slow machine this may miss a bug; it cannot fail a correct vk.)  The
# container was made once, or never when the deadline came first.
wait_until 60 pod_is long Running || true
uid=$(jp short '{.metadata.uid}')
made() { cri ps -a -q --label "io.kubernetes.pod.uid=$uid" | wc -l; }
n0=$(made)
sleep 5
n1=$(made)
tap_is "running $(cri ps -q --label "io.kubernetes.pod.uid=$uid" | wc -l), made $n1 (0 or 1, as 5 s before), restartCount $(cst short c '.restartCount')" \
	"running 0, made $((n0 <= 1 ? n0 : 1)) (0 or 1, as 5 s before), restartCount 0" "it is not restarted under restartPolicy Always"
tap_is "$(jp long '{.status.phase}')" "Running" "a pod within its deadline keeps running"
k -n "$ns" delete pod --all --wait=false >/dev/null
if wait_until 90 no_sandbox_left; then tap_pass "deleting the pods leaves no sandbox and no pod"
else tap_fail "deleting the pods leaves no sandbox and no pod" "$(cri pods)" "$(k -n "$ns" get pods)"; fi
tap_done
