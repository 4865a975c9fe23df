#!/usr/bin/env bash
# Init container statuses on mynode, as kubelet reports them:
# - while an init container runs, the pod is Pending, the app container
#   waits with reason PodInitializing and the init container is running;
# - a finished init container is terminated with reason Completed and
#   ready; then the app container runs;
# - a failed init container of a restartPolicy Never pod makes the pod
#   Failed, and no app container is ever created;
# - under restartPolicy Always a failing init container is restarted with
#   the crash backoff, the app waits, and kubectl shows Init:Error or
#   Init:CrashLoopBackOff.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 9
mynode_up

apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: init-wait}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: init, image: docker.io/library/busybox:1.35, command: [sh, -c, "while [ ! -f /tmp/go ]; do sleep 0.2; done"]}
  containers:
  - {name: app, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: init-fail-never}
spec:
  nodeName: NODE
  tolerations: TOL
  restartPolicy: Never
  initContainers:
  - {name: init, image: docker.io/library/busybox:1.35, command: [sh, -c, "exit 2"]}
  containers:
  - {name: app, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: init-fail-always}
spec:
  nodeName: NODE
  tolerations: TOL
  initContainers:
  - {name: init, image: docker.io/library/busybox:1.35, command: [sh, -c, "exit 1"]}
  containers:
  - {name: app, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}
YAML

init_running() { [[ -n $(cst init-wait init '.state.running.startedAt' init) ]]; }
if wait_until 90 init_running; then
	tap_is "$(jp init-wait '{.status.phase}'):$(cst init-wait app '.state.waiting.reason'):$(cst init-wait init '.ready' init)" \
		"Pending:PodInitializing:false" "while the init container runs: Pending, the app waits with PodInitializing"
else tap_fail "while the init container runs: Pending, the app waits with PodInitializing" "$(jp init-wait '{.status}')"; fi
cri exec "$(cid_of init-wait init)" touch /tmp/go >/dev/null
if wait_until 60 pod_is init-wait Running; then
	tap_is "$(cst init-wait init '.state.terminated.reason' init)/$(cst init-wait init '.state.terminated.exitCode' init)/$(cst init-wait init '.ready' init)" \
		"Completed/0/true" "a finished init container is terminated, Completed, and ready"
else tap_fail "a finished init container is terminated, Completed, and ready" "$(jp init-wait '{.status}')"; fi
tap_is "$(cst init-wait app '.ready')" "true" "then the app container runs and is ready"

if wait_until 60 pod_is init-fail-never Failed; then tap_pass "a failed init container under restartPolicy Never: the pod is Failed"
else tap_fail "a failed init container under restartPolicy Never: the pod is Failed" "$(jp init-fail-never '{.status}')"; fi
tap_is "$(cst init-fail-never init '.state.terminated.reason' init)/$(cst init-fail-never init '.state.terminated.exitCode' init):$(cst init-fail-never app '.state.waiting.reason'):$(cid_of init-fail-never app)" \
	"Error/2:PodInitializing:" "the init container is terminated with Error; the app never ran (no container in containerd)"

crashing() { [[ $(cst init-fail-always init '.restartCount' init) -ge 2 ]]; }
if wait_until 90 crashing; then tap_pass "under restartPolicy Always a failing init container is restarted"
else tap_fail "under restartPolicy Always a failing init container is restarted" "$(jp init-fail-always '{.status}')"; fi
tap_is "$(jp init-fail-always '{.status.phase}'):$(cst init-fail-always app '.state.waiting.reason')" "Pending:PodInitializing" \
	"meanwhile the pod is Pending and the app waits"
# Between restarts the init container runs for a moment (kubectl shows
# Init:0/1 then): the backoff state is waited for, not sampled once.
kubectl_status() { k -n "$ns" get pod init-fail-always --no-headers | awk '{print $3}'; }
shows_backoff() { [[ $(kubectl_status) =~ ^Init:(Error|CrashLoopBackOff)$ ]]; }
if wait_until 60 shows_backoff; then tap_pass "kubectl shows Init:Error or Init:CrashLoopBackOff"
else tap_fail "kubectl shows Init:Error or Init:CrashLoopBackOff" "$(kubectl_status)"; fi
k -n "$ns" delete pod --all --wait=false >/dev/null
if wait_until 90 no_sandbox_left; then tap_pass "deleting the pods leaves no sandbox and no pod"
else tap_fail "deleting the pods leaves no sandbox and no pod" "$(cri pods)" "$(k -n "$ns" get pods)"; fi
tap_done
