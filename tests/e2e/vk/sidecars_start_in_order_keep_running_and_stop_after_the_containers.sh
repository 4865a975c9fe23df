#!/usr/bin/env bash
# Sidecar containers (init containers with restartPolicy Always) on mynode:
# - init containers run in order; the next one waits until the sidecar is
#   started, which with a startupProbe means the probe passed;
# - the sidecar keeps running beside the containers, reports started and
#   ready in initContainerStatuses, and is restarted when it exits, even in
#   a restartPolicy Never pod;
# - on deletion the containers get SIGTERM first, then the sidecars;
# - in a Never pod whose container is done, the sidecar is stopped and the
#   pod Succeeded.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 10
mynode_up
out=$tmp/out
mkdir -p "$out"

# shellcheck disable=SC2016 # the containers' shell expands it ($0: the name given after -c)
loop='trap "echo $0-term >> /out/order; exit 0" TERM; echo $0 >> /out/order; while :; do sleep 0.2; done'
apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: side}
spec:
  nodeName: NODE
  tolerations: TOL
  restartPolicy: Never
  terminationGracePeriodSeconds: 10
  volumes: [{name: out, hostPath: {path: $out}}]
  initContainers:
  - name: i1
    image: docker.io/library/busybox:1.35
    command: [sh, -c, "echo i1 >> /out/order"]
    volumeMounts: [{name: out, mountPath: /out}]
  - name: side1
    restartPolicy: Always
    image: docker.io/library/busybox:1.35
    command: [sh, -c, '$loop', side1]
    volumeMounts: [{name: out, mountPath: /out}]
    startupProbe: {exec: {command: [test, -f, /tmp/up]}, periodSeconds: 1, failureThreshold: 1000}
  - name: i2
    image: docker.io/library/busybox:1.35
    command: [sh, -c, "echo i2 >> /out/order"]
    volumeMounts: [{name: out, mountPath: /out}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sh, -c, '$loop', main]
    volumeMounts: [{name: out, mountPath: /out}]
---
apiVersion: v1
kind: Pod
metadata: {name: side-job}
spec:
  nodeName: NODE
  tolerations: TOL
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  initContainers:
  - {name: side, restartPolicy: Always, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}
  containers:
  - {name: job, image: docker.io/library/busybox:1.35, command: [sh, -c, "sleep 1; exit 0"]}
YAML

side_running() { [[ -n $(cst side side1 '.state.running.startedAt' init) ]]; }
startup_failed() { has_event side "Startup probe failed"; }
if wait_until 90 side_running && wait_until 60 startup_failed; then
	tap_is "$(tr '\n' ' ' <"$out/order"):$(cst side i2 '.state.waiting.reason' init):$(cst side main '.state.waiting.reason'):$(cst side side1 '.started' init)" \
		"i1 side1 :PodInitializing:PodInitializing:false" \
		"the sidecar runs after i1; until its startup probe passes, i2 and main wait (PodInitializing)"
else tap_fail "the sidecar runs after i1; i2 and main wait" "$(jp side '{.status}')"; fi
cri exec "$(cid_of side side1)" touch /tmp/up >/dev/null
main_running() { [[ -n $(cst side main '.state.running.startedAt') ]]; }
if wait_until 60 main_running; then
	tap_is "$(tr '\n' ' ' <"$out/order")" "i1 side1 i2 main " "once started, i2 runs, then the main container"
else tap_fail "once started, i2 runs, then the main container" "$(jp side '{.status}')"; fi
tap_is "$(cst side side1 '.started' init)/$(cst side side1 '.ready' init)/$(cst side i2 '.state.terminated.reason' init)" \
	"true/true/Completed" "the sidecar is started and ready in initContainerStatuses; i2 Completed"
tap_is "$(jp side '{.status.phase}')/$(jp side '{.status.conditions[?(@.type=="Initialized")].status}')" "Running/True" \
	"the pod is Running and Initialized"

cri stop -t 0 "$(cid_of side side1)" >/dev/null
restarted() { [[ $(cst side side1 '.restartCount' init) -ge 1 && -n $(cst side side1 '.state.running.startedAt' init) ]]; }
if wait_until 60 restarted; then tap_pass "a sidecar that exits is restarted, in a restartPolicy Never pod"
else tap_fail "a sidecar that exits is restarted" "$(jp side '{.status.initContainerStatuses}')"; fi
tap_is "$(cst side main '.restartCount')" "0" "the main container was left alone"

: >"$out/order"
k -n "$ns" delete pod side --wait=false >/dev/null
if wait_until 90 pod_gone side; then tap_is "$(tr '\n' ' ' <"$out/order")" "main-term side1-term " \
	"on deletion the main container is stopped first, then the sidecar"
else tap_fail "on deletion the main container is stopped first, then the sidecar" "$(jp side '{.status}')"; fi

if wait_until 90 pod_is side-job Succeeded; then tap_pass "a Never pod whose container finished is Succeeded"
else tap_fail "a Never pod whose container finished is Succeeded" "$(jp side-job '{.status}')"; fi
side_stopped() { [[ -n $(cst side-job side '.state.terminated.finishedAt' init) ]]; }
if wait_until 60 side_stopped; then tap_pass "and its sidecar was stopped"
else tap_fail "and its sidecar was stopped" "$(jp side-job '{.status.initContainerStatuses}')"; fi
k -n "$ns" delete pod --all --wait=false >/dev/null
if wait_until 90 no_sandbox_left; then tap_pass "deleting the pods leaves no sandbox and no pod"
else tap_fail "deleting the pods leaves no sandbox and no pod" "$(cri pods)" "$(k -n "$ns" get pods)"; fi
tap_done
