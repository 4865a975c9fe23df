#!/usr/bin/env bash
# PersistentVolumeClaims on mynode: a `local` and a `hostPath`
# PersistentVolume with node affinity to the vk node, bound statically to
# their claims by the real controller-manager's PV controller (no
# provisioner); a pod writes to both, is deleted, and a new pod reads what
# it wrote.  The pod's fsGroup is applied to the local volume (kubelet
# manages ownership of local volumes, not of hostPath ones), honouring
# fsGroupChangePolicy: OnRootMismatch leaves a file alone when the root
# already has the group, Always walks the whole volume.  A claim that is
# not bound is a FailedMount and the pod waits.  After a vk restart, a
# container that exits is started again with its claims mounted (mynode
# keeps the claims' paths beside the pod's volumes).
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/volumes.bash"
tap_plan 11
vk_setup node
mynode_up ""
mkdir -p "$tmp/local-pv"
sc=vk-$ns
pv_local=$ns-local pv_host=$ns-host
on_exit "k delete pv '$pv_local' '$pv_host' --wait=false >/dev/null 2>&1; k delete storageclass '$sc' >/dev/null 2>&1"
cat <<YAML | k create -f - >/dev/null
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: $sc}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv_local}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: $sc
  persistentVolumeReclaimPolicy: Retain
  local: {path: $tmp/local-pv}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$node]}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: $pv_host}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: $sc
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $tmp/host-pv, type: DirectoryOrCreate}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$node]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: local-claim, namespace: $ns}
spec:
  storageClassName: $sc
  volumeName: $pv_local
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: host-claim, namespace: $ns}
spec:
  storageClassName: $sc
  volumeName: $pv_host
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
YAML
bound() { [[ $(k -n "$ns" get pvc local-claim host-claim -o jsonpath='{.items[*].status.phase}') == "Bound Bound" ]]; }
if wait_until 60 bound; then tap_pass "the PV controller binds both claims to their volumes"
else tap_bail "claims not Bound: $(k -n "$ns" get pvc -o wide) $(k get pv "$pv_local" "$pv_host" -o wide)"; fi

claim_pod() { # NAME POLICY COMMAND
	cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  securityContext: {fsGroup: 3000, fsGroupChangePolicy: $2}
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sh, -c, "$3"]
    volumeMounts:
    - {name: l, mountPath: /local}
    - {name: h, mountPath: /host}
  volumes:
  - {name: l, persistentVolumeClaim: {claimName: local-claim}}
  - {name: h, persistentVolumeClaim: {claimName: host-claim}}
YAML
}
stamp="written by the first pod at $(date +%s)"
claim_pod writer OnRootMismatch "echo '$stamp' > /local/data; echo '$stamp' > /host/data; sleep 3600"
if wait_running writer; then tap_pass "a pod mounting both claims runs"
else tap_bail "pod writer not Running: $(pod_warnings writer) $(vk_log_tail vk)"; fi
written() { [[ -s $tmp/local-pv/data && -s $tmp/host-pv/data ]]; }
wait_until 30 written || true
tap_is "$(cat "$tmp/local-pv/data")|$(cat "$tmp/host-pv/data")" "$stamp|$stamp" \
	"what it writes lands in the volumes' folders on the node"
tap_is "$(stat -c '%g %a' "$tmp/local-pv")" "3000 2775" "fsGroup 3000 owns the local volume's root: group rwx and setgid (0755 -> 2775)"
k -n "$ns" delete pod writer --wait=false >/dev/null
if wait_until 60 pod_gone writer; then tap_pass "the pod is deleted"; else tap_fail "the pod is deleted"; fi

# Behind the pod's back, a file in the volume loses the group.
chgrp 0 "$tmp/local-pv/data"
claim_pod reader OnRootMismatch "sleep 3600"
wait_running reader || tap_bail "pod reader not Running: $(pod_warnings reader)"
tap_is "$(in_pod reader main cat /local/data)|$(in_pod reader main cat /host/data)" "$stamp|$stamp" \
	"a new pod reads what the deleted one wrote, in both volumes"
tap_is "$(stat -c '%g' "$tmp/local-pv/data")" 0 "OnRootMismatch: the root has the group, so the file is left alone"
k -n "$ns" delete pod reader --wait=false >/dev/null
wait_until 60 pod_gone reader || true
claim_pod always Always "sleep 3600"
wait_running always || tap_bail "pod always not Running: $(pod_warnings always)"
tap_is "$(stat -c '%g' "$tmp/local-pv/data")" 3000 "Always: the whole volume is walked and the file gets the group"

# vk restarts; then the container exits: it comes back with the claims.
vk_stop "$vk_pid" || true
vk_start vk2 "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready after the restart: $(vk_log_tail vk2)"
old_id=$(ctr_of always main)
cri stop --timeout 0 "$old_id" >/dev/null
restarted() {
	local id
	id=$(ctr_of always main)
	[[ -n $id && $id != "$old_id" ]]
}
if wait_until 60 restarted; then tap_pass "after a vk restart, a container that stopped is started again"
else tap_fail "after a vk restart, a container that stopped is started again" "$(vk_log_tail vk2)"; fi
tap_is "$(in_pod always main cat /local/data)|$(in_pod always main cat /host/data)" "$stamp|$stamp" \
	"the new container has both claims mounted"

# A claim that nothing binds: the pod waits with FailedMount.
cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: unbound, namespace: $ns}
spec:
  storageClassName: $sc-none
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: waits, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers: [{name: main, image: docker.io/library/busybox:1.35, command: [sleep, "3600"], volumeMounts: [{name: u, mountPath: /u}]}]
  volumes: [{name: u, persistentVolumeClaim: {claimName: unbound}}]
YAML
unbound_warned() { pod_warnings waits | grep -qF 'FailedMount: MountVolume.SetUp failed for volume "u" : persistentvolumeclaim "unbound" is not bound'; }
if wait_until 30 unbound_warned; then tap_pass "an unbound claim: FailedMount, the pod stays $(pod_phase waits)"
else tap_fail "an unbound claim: FailedMount" "$(pod_warnings waits)" "$(vk_log_tail vk2)"; fi
tap_done
