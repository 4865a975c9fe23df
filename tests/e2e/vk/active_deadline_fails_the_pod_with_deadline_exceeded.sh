#!/usr/bin/env bash
# activeDeadlineSeconds on mynode: a pod active longer than its deadline
# (counted from status.startTime) becomes Failed with reason
# DeadlineExceeded, as kubelet reports it; its containers are stopped and
# not restarted, whatever the restartPolicy; a pod within its deadline
# keeps running.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 6
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
YAML

failed() { [[ $(jp short '{.status.phase}/{.status.reason}') == Failed/DeadlineExceeded ]]; }
if wait_until 120 failed; then tap_pass "past its deadline the pod is Failed with reason DeadlineExceeded"
else tap_fail "past its deadline the pod is Failed with reason DeadlineExceeded" "$(jp short '{.status}')"; fi
tap_is "$(jp short '{.status.message}')" "Pod was active on the node longer than the specified deadline" "with kubelet's message"
stopped() { [[ -n $(cst short c '.state.terminated.exitCode') ]]; }
if wait_until 60 stopped; then tap_pass "its container is stopped"
else tap_fail "its container is stopped" "$(jp short '{.status.containerStatuses}')"; fi
# A restart would come at once (the first restart is immediate) on the
# next supervisor round (300 ms): several rounds later, none came.  (On a
# slow machine this may miss a bug; it cannot fail a correct vk.)
wait_until 60 pod_is long Running || true
n0=$(cri ps -a -q --label "io.kubernetes.pod.uid=$(jp short '{.metadata.uid}')" | wc -l)
sleep 5
tap_is "$(cri ps -q --label "io.kubernetes.pod.uid=$(jp short '{.metadata.uid}')" | wc -l):$n0:$(cst short c '.restartCount')" \
	"0:1:0" "it is not restarted under restartPolicy Always"
tap_is "$(jp long '{.status.phase}')" "Running" "a pod within its deadline keeps running"
k -n "$ns" delete pod --all --wait=false >/dev/null
if wait_until 90 no_sandbox_left; then tap_pass "deleting the pods leaves no sandbox and no pod"
else tap_fail "deleting the pods leaves no sandbox and no pod" "$(cri pods)" "$(k -n "$ns" get pods)"; fi
tap_done
