#!/usr/bin/env bash
# emptyDir `medium: Memory` on mynode is a tmpfs, as kubelet makes it: its
# size is the volume's sizeLimit, or the pod's memory limit when that is
# lower or there is no sizeLimit; writing past it fails with "No space
# left"; it is mode 0777; the mount goes when the pod is deleted.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/volumes.bash"
tap_plan 8
vk_setup node
mynode_up ""
cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: mem, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    resources: {limits: {memory: 48Mi}}
    volumeMounts:
    - {name: small, mountPath: /small}
    - {name: bylimit, mountPath: /bylimit}
  volumes:
  - {name: small, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
  - {name: bylimit, emptyDir: {medium: Memory}}
YAML
if wait_running mem; then tap_pass "the pod runs"
else tap_bail "pod mem not Running: $(pod_warnings mem) $(vk_log_tail vk)"; fi
# shellcheck disable=SC2016 # awk's fields, not the shell's
mnt() { in_pod mem main awk -v m="$1" '$2 == m { print $3 }' /proc/mounts; }
tap_is "$(mnt /small)/$(mnt /bylimit)" "tmpfs/tmpfs" "both volumes are tmpfs mounts inside the container"
size_kib() { in_pod mem main df -k "$1" | awk 'NR == 2 { print $2 }'; }
tap_is "$(size_kib /small)" 8192 "sizeLimit 8Mi gives an 8 MiB tmpfs"
tap_is "$(size_kib /bylimit)" 49152 "without sizeLimit the size is the pod's memory limit (48Mi)"
tap_is "$(in_pod mem main stat -c '%a' /small)" 777 "the tmpfs is mode 0777"
full=$(in_pod mem main sh -c 'dd if=/dev/zero of=/small/big bs=1M count=12 2>&1; echo "exit $?"' || true)
tap_like "$full" "No space left on device" "writing 12 MiB into it fails: No space left on device"
dir=$(vol_dir mem empty-dir small)
tap_is "$(awk -v m="$dir" '$2 == m { print $3 }' /proc/mounts)" tmpfs "on the host it is a tmpfs under the pod's folder"
k -n "$ns" delete pod mem --wait=false >/dev/null
gone() { pod_gone mem && ! awk -v m="$dir" '$2 == m { f = 1 } END { exit !f }' /proc/mounts && [[ ! -e $dir ]]; }
if wait_until 60 gone; then tap_pass "deleting the pod unmounts the tmpfs and removes the folder"
else tap_fail "deleting the pod unmounts the tmpfs and removes the folder" "$(grep "$tmp" /proc/mounts)" "$(vk_log_tail vk)"; fi
tap_done
