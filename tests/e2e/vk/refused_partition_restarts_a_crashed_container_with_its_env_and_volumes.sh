#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: link_port by relay_start (partition.bash)
# Edge autonomy, scenario 2: the link between vk and the API server is cut
# (the relay closes its listener and every connection: refused), and while
# it is, a mynode container exits with an error.  mynode restarts it by its
# restartPolicy without the API: the new container has the same env (from
# a ConfigMap and a Secret) and the same configMap/secret volumes.  Pods
# keep running; when the link returns the node is Ready at once and the
# pod's status catches up (restartCount 1, the new container's ID).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/partition.bash"
tap_plan 9
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
relay_start link || tap_bail "the relay did not start"
relay_kubeconfig "$node" "$link_port" "$tmp/edge.kubeconfig" || tap_bail "no relay kubeconfig"
mynode_config
VK_KUBECONFIG=$tmp/edge.kubeconfig vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" \
	--provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k -n "$ns" create configmap app-config --from-literal=app.conf=color=blue >/dev/null
k -n "$ns" create secret generic app-secret --from-literal=password=s3cr3t >/dev/null
# The container exits with 3 once /data/crash exists (the test creates it
# through the CRI, which needs no API server); a restarted one finds none.
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: crashy, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 2
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute}
  containers:
  - name: c
    image: $BUSYBOX_IMAGE
    command: [sh, -c, 'while [ ! -e /data/crash ]; do sleep 0.2; done; rm -f /data/crash; exit 3']
    env:
    - {name: PLAIN, value: hello}
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: app-config, key: app.conf}}
    - name: FROM_SECRET
      valueFrom: {secretKeyRef: {name: app-secret, key: password}}
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: cfg, mountPath: /etc/app}
    - {name: sec, mountPath: /etc/sec}
  volumes:
  - {name: data, emptyDir: {}}
  - {name: cfg, configMap: {name: app-config}}
  - {name: sec, secret: {secretName: app-secret}}
YAML
pod_yaml steady "$node" "$BUSYBOX_IMAGE" | k apply -f - >/dev/null
wait_until 60 pod_is crashy Running || tap_bail "crashy not Running: $(vk_log_tail vk 10)"
wait_until 60 pod_is steady Running || tap_bail "steady not Running: $(vk_log_tail vk 10)"
uid=$(k -n "$ns" get pod crashy -o jsonpath='{.metadata.uid}')
uids() { k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}={.status.phase} {end}'; }
uids_before=$(uids)
running_cid() { cri ps -q --label "io.kubernetes.pod.uid=$1" --state Running 2>/dev/null | head -n 1; }
cid1=$(running_cid "$uid")
steady_cid=$(running_cid "$(k -n "$ns" get pod steady -o jsonpath='{.metadata.uid}')")
# shellcheck disable=SC2016 # expanded by the shell inside the container
inside() { cri exec "$1" sh -c 'echo "$PLAIN $FROM_CM $FROM_SECRET"; cat /etc/app/app.conf; echo; cat /etc/sec/password' 2>&1; }
want="hello color=blue s3cr3t
color=blue
s3cr3t"
tap_is "$(inside "$cid1")" "$want" "before the partition: env and volumes are there"

# ---- refused connections -------------------------------------------------
relay_cut link
unreachable() { grep -q 'API server .* unreachable' "$tmp/vk.log"; }
if wait_until 30 unreachable; then tap_pass "vk sees the API server unreachable"
else tap_fail "vk sees the API server unreachable" "$(vk_log_tail vk)"; fi
cri exec "$cid1" touch /data/crash >/dev/null 2>&1 || true
restarted() { local c; c=$(running_cid "$uid"); [[ -n $c && $c != "$cid1" ]]; }
if wait_until 60 restarted; then tap_pass "the crashed container is restarted while the API server is unreachable"
else tap_fail "the crashed container is restarted while the API server is unreachable" "$(cri ps -a 2>&1 | tail -5)" \
	"$(vk_log_tail vk)"; fi
cid2=$(running_cid "$uid")
tap_is "$(inside "$cid2")" "$want" "the new container has the same env and configMap/secret volumes"
tap_is "$(running_cid "$(k -n "$ns" get pod steady -o jsonpath='{.metadata.uid}')")" "$steady_cid" \
	"the other pod's container runs on untouched"
grep -q 'API server .* answers again' "$tmp/vk.log" &&
	tap_diag "unexpected: vk saw the API server while the relay was down"

# ---- the link returns ------------------------------------------------------
t_mend=$EPOCHREALTIME
relay_mend link
back() { grep -q 'API server .* answers again' "$tmp/vk.log"; }
if wait_until 30 back; then
	tap_diag "link back -> vk sees it within $(secs_between "$t_mend" "$EPOCHREALTIME") s (at most; polled)"
	tap_pass "vk sees the API server again"
else
	tap_fail "vk sees the API server again" "$(vk_log_tail vk)"
fi
wait_until 30 node_is "$node" True || true
tap_is "$(node_ready "$node")" True "the node is Ready"
caught_up() {
	[[ $(k -n "$ns" get pod crashy -o jsonpath='{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].containerID}') == "1 containerd://$cid2" ]]
}
if wait_until 30 caught_up; then tap_pass "the pod's status caught up: restartCount 1 and the new container"
else tap_fail "the pod's status caught up: restartCount 1 and the new container" \
	"$(k -n "$ns" get pod crashy -o jsonpath='{.status.containerStatuses}')"; fi
tap_is "$(uids)" "$uids_before" "both pods are Running with their uids: none was re-created"
tap_done
