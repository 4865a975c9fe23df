#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# mynode's probes on the real control plane and containerd, made from
# inside each pod's network namespace (vk.net / vk.http netns=):
# - tcpSocket to 127.0.0.1 reaches the pod's own loopback: a pod whose
#   server listens only there is Ready, a pod without it is not (and
#   nothing listens on that port in the host's namespace);
# - grpc (grpc.health.v1, a real google.golang.org/grpc server): NOT_SERVING
#   keeps the container unready with kubelet's message, SERVING makes it ready;
# - httpGet over HTTPS with a self-signed certificate passes; httpGet with
#   httpHeaders sends them (the server wants X-Probe: yes) and kube-probe's
#   User-Agent;
# - startupProbe gates liveness and readiness: while it fails the container
#   is neither started nor ready and a failing liveness probe never runs;
#   once it passes, readiness and liveness run (liveness then restarts it);
#   a startup probe that keeps failing restarts the container.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 12
server=$("$VK_ROOT/tests/e2e/peers/build.sh" probe-server) || tap_bail "cannot build tests/e2e/peers/probe-server"
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 15 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

# A port nothing listens on in the host's namespace.
for port in $(shuf -i 20000-60000 -n 40); do [[ -z $(ss -Htln "sport = :$port") ]] && break; done

cat <<YAML | k -n "$ns" apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: tcp-lo}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [httpd, -f, -p, "127.0.0.1:$port", -h, /tmp]
    readinessProbe: {tcpSocket: {host: 127.0.0.1, port: $port}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: tcp-none}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    readinessProbe: {tcpSocket: {host: 127.0.0.1, port: $port}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: servers}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  volumes: [{name: peer, hostPath: {path: $(dirname "$server")}}]
  containers:
  - name: grpc
    image: docker.io/library/busybox:1.35
    command: [/peer/probe-server, -grpc, ":9000", -serving-file, /tmp/serving]
    volumeMounts: [{name: peer, mountPath: /peer}]
    readinessProbe: {grpc: {port: 9000, service: app}, periodSeconds: 1}
  - name: https
    image: docker.io/library/busybox:1.35
    command: [/peer/probe-server, -https, ":8443"]
    volumeMounts: [{name: peer, mountPath: /peer}]
    readinessProbe: {httpGet: {scheme: HTTPS, port: 8443, path: /healthz}, periodSeconds: 1}
  - name: headers
    image: docker.io/library/busybox:1.35
    command: [/peer/probe-server, -http, ":8080"]
    volumeMounts: [{name: peer, mountPath: /peer}]
    ports: [{name: web, containerPort: 8080}]
    readinessProbe:
      httpGet: {port: web, path: /ready, httpHeaders: [{name: X-Probe, value: "yes"}]}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: startup}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    startupProbe: {exec: {command: [test, -f, /tmp/started]}, periodSeconds: 1, failureThreshold: 1000}
    livenessProbe: {exec: {command: [test, -f, /tmp/alive]}, periodSeconds: 1, failureThreshold: 1}
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: startup-fails}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    startupProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 2}
YAML

jp() { k -n "$ns" get pod "$1" -o jsonpath="$2" 2>/dev/null; }
cready() { jp "$1" "{.status.containerStatuses[?(@.name==\"$2\")].ready}"; }
is_ready() { [[ $(cready "$1" "$2") == true ]]; }
events() { k -n "$ns" get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'; }
has_event() { events "$1" | grep -qF -- "$2"; }
cid_of() { cri ps -q --label "io.kubernetes.pod.uid=$(jp "$1" '{.metadata.uid}')" --label "io.kubernetes.container.name=$2" | head -1; }

if wait_until 60 is_ready tcp-lo c; then tap_pass "tcpSocket to 127.0.0.1 reaches the pod's own loopback: Ready"
else tap_fail "tcpSocket to 127.0.0.1 reaches the pod's own loopback: Ready" "$(jp tcp-lo '{.status}')"; fi
if wait_until 60 has_event tcp-none "Readiness probe failed: dial tcp 127.0.0.1:$port"; then
	tap_is "$(cready tcp-none c):$(ss -Htln "sport = :$port" | wc -l)" "false:0" \
		"the same probe of a pod with no server fails (and nothing listens there on the host)"
else tap_fail "the same probe of a pod with no server fails" "$(events tcp-none)"; fi

if wait_until 60 has_event servers 'service unhealthy (responded with "NOT_SERVING")'; then
	tap_is "$(cready servers grpc)" false "grpc probe: NOT_SERVING keeps the container unready, in kubelet's words"
else tap_fail "grpc probe: NOT_SERVING keeps the container unready" "$(events servers)" "$(jp servers '{.status}')"; fi
cri exec "$(cid_of servers grpc)" touch /tmp/serving >/dev/null
if wait_until 30 is_ready servers grpc; then tap_pass "grpc probe: SERVING makes it ready"
else tap_fail "grpc probe: SERVING makes it ready" "$(jp servers '{.status}')"; fi
if wait_until 30 is_ready servers https; then tap_pass "httpGet over HTTPS with a self-signed certificate passes"
else tap_fail "httpGet over HTTPS with a self-signed certificate passes" "$(events servers)"; fi
if wait_until 30 is_ready servers headers; then tap_pass "httpGet sends httpHeaders to a named port (the server wants X-Probe: yes)"
else tap_fail "httpGet sends httpHeaders to a named port" "$(events servers)"; fi
tap_like "$(cri logs "$(cid_of servers headers)" 2>&1 | grep 'http /ready' | tail -1)" \
	'user-agent="kube-probe/1\.35" x-probe="yes"' "the probe's request carries kube-probe's User-Agent and the header"

# startupProbe gating: the startup probe fails while /tmp/started is absent.
startup_fails() { [[ $(events startup | grep -c "Startup probe failed") -ge 1 ]]; }
wait_until 60 startup_fails || true
if wait_until 60 has_event startup "Startup probe failed"; then
	tap_is "$(jp startup '{.status.containerStatuses[0].started}/{.status.containerStatuses[0].ready}/{.status.containerStatuses[0].restartCount}'):$(events startup | grep -c 'Liveness probe failed' || true)" \
		"false/false/0:0" "while the startup probe fails: not started, not ready, and liveness never runs"
else tap_fail "while the startup probe fails: not started, not ready, and liveness never runs" "$(events startup)"; fi
cri exec "$(cid_of startup c)" touch /tmp/started >/dev/null
restarted_by_liveness() {
	[[ $(jp startup '{.status.containerStatuses[0].restartCount}') -ge 1 ]] && has_event startup "Liveness probe failed"
}
started_ready() { [[ $(jp startup '{.status.containerStatuses[0].started}/{.status.containerStatuses[0].ready}') == true/true ]]; }
if wait_until 30 started_ready || restarted_by_liveness; then
	tap_pass "once the startup probe passes the container is started and ready"
else tap_fail "once the startup probe passes the container is started and ready" "$(jp startup '{.status}')"; fi
if wait_until 60 restarted_by_liveness; then tap_pass "then liveness runs, fails, and restarts it"
else tap_fail "then liveness runs, fails, and restarts it" "$(events startup)"; fi

restarted_by_startup() {
	[[ $(jp startup-fails '{.status.containerStatuses[0].restartCount}') -ge 1 ]] &&
		has_event startup-fails "Container c failed startup probe, will be restarted"
}
if wait_until 60 restarted_by_startup; then tap_pass "a startup probe that keeps failing restarts the container"
else tap_fail "a startup probe that keeps failing restarts the container" "$(events startup-fails)" "$(jp startup-fails '{.status}')"; fi

k -n "$ns" delete pod --all --wait=false >/dev/null
none_left() { [[ -z $(cri pods -q --label "vk.io/node=$node") && -z $(k -n "$ns" get pods -o name) ]]; }
if wait_until 90 none_left; then tap_pass "deleting the pods leaves no sandbox"
else tap_fail "deleting the pods leaves no sandbox" "$(cri pods)"; fi
tap_done
