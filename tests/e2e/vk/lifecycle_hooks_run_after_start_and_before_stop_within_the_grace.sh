#!/usr/bin/env bash
# mynode's lifecycle hooks on the real control plane and containerd:
# - postStart exec runs after the container started;
# - preStop exec runs on deletion before the container gets SIGTERM;
# - httpGet hooks (postStart and preStop, with a header) reach a server in
#   the pod through its network namespace (the server is a sidecar with a
#   startup probe, so it listens before the hooked container starts);
# - a preStop that would outlast terminationGracePeriodSeconds is cut: the
#   pod is gone long before the hook's hour, with a FailedPreStopHook Event;
# - a failing postStart kills the container (FailedPostStartHook) and it
#   restarts.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 9
server=$("$VK_ROOT/tests/e2e/peers/build.sh" probe-server) || tap_bail "cannot build tests/e2e/peers/probe-server"
mynode_up
out=$tmp/out
mkdir -p "$out"
chmod 777 "$out"

apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 10
  volumes:
  - {name: out, hostPath: {path: $out}}
  - {name: peer, hostPath: {path: $(dirname "$server")}}
  initContainers:
  - name: web
    restartPolicy: Always
    image: docker.io/library/busybox:1.35
    command: [/peer/probe-server, -http, ":8080", -log, /out/http]
    volumeMounts: [{name: peer, mountPath: /peer}, {name: out, mountPath: /out}]
    startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 1, failureThreshold: 60}
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sh, -c, 'trap "echo term >> /out/order; exit 0" TERM; while :; do sleep 0.2; done']
    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo poststart >> /out/order"]}}
      preStop: {exec: {command: [sh, -c, "echo prestop >> /out/order"]}}
  - name: h
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    lifecycle:
      postStart: {httpGet: {port: 8080, path: /poststart, httpHeaders: [{name: X-Probe, value: "yes"}]}}
      preStop: {httpGet: {port: 8080, path: /prestop, httpHeaders: [{name: X-Probe, value: "yes"}]}}
---
apiVersion: v1
kind: Pod
metadata: {name: slow-prestop}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 3
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    lifecycle:
      preStop: {exec: {command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {name: bad-poststart}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "exit 7"]}}
YAML

running() { [[ $(cst hooks c '.state.running.startedAt') != "" && $(cst hooks h '.state.running.startedAt') != "" ]]; }
if wait_until 90 running; then tap_pass "the pod with hooks runs"
else tap_fail "the pod with hooks runs" "$(jp hooks '{.status}')" "$(events hooks)"; fi
tap_is "$(cat "$out/order" 2>&1)" "poststart" "postStart exec ran after the container started"
tap_is "$(cat "$out/http" 2>&1)" "/poststart" "postStart httpGet reached the sidecar's server inside the pod"

running_slow() { [[ $(cst slow-prestop c '.state.running.startedAt') != "" ]]; }
wait_until 60 running_slow || tap_fail "slow-prestop runs" "$(jp slow-prestop '{.status}')"
k -n "$ns" delete pod hooks slow-prestop --wait=false >/dev/null
gone() { pod_gone hooks && pod_gone slow-prestop; }
if wait_until 120 gone; then tap_pass "both pods are deleted (the hour-long preStop was cut at the 3 s grace)"
else tap_fail "both pods are deleted" "$(k -n "$ns" get pods)" "$(events slow-prestop)"; fi
tap_is "$(tr '\n' ' ' <"$out/order")" "poststart prestop term " "preStop exec ran before SIGTERM"
tap_is "$(tr '\n' ' ' <"$out/http")" "/poststart /prestop " "preStop httpGet reached the server before the sidecar was stopped"
if wait_until 30 has_event slow-prestop "FailedPreStopHook"; then tap_pass "the cut preStop is a FailedPreStopHook Event"
else tap_fail "the cut preStop is a FailedPreStopHook Event" "$(events slow-prestop)"; fi

killed() {
	[[ $(cst bad-poststart c '.restartCount') -ge 1 ]] && has_event bad-poststart "FailedPostStartHook"
}
if wait_until 90 killed; then tap_pass "a failing postStart kills the container (FailedPostStartHook) and it restarts"
else tap_fail "a failing postStart kills the container and it restarts" "$(events bad-poststart)" "$(jp bad-poststart '{.status}')"; fi
k -n "$ns" delete pod --all --wait=false >/dev/null
if wait_until 90 no_sandbox_left; then tap_pass "deleting the pods leaves no sandbox and no pod"
else tap_fail "deleting the pods leaves no sandbox and no pod" "$(cri pods)" "$(k -n "$ns" get pods)"; fi
tap_done
