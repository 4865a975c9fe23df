#!/usr/bin/env bash
# Volume ownership on mynode, as kubelet sets it: with the pod's fsGroup,
# an emptyDir is 0777 plus setgid and belongs to the group, so a container
# running as a non-root user writes there and its files get the group;
# configMap and secret files get the group and group read (a 0400 Secret
# becomes 0440); without fsGroup an emptyDir is still 0777, writable by
# any user.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/volumes.bash"
tap_plan 8
vk_setup node
mynode_up ""
k -n "$ns" create secret generic sec --from-literal=p=s1 >/dev/null
k -n "$ns" create configmap app --from-literal=a=one >/dev/null
cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: grp, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  securityContext: {fsGroup: 2000}
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    securityContext: {runAsUser: 1000}
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: sec, mountPath: /etc/sec}
    - {name: cm, mountPath: /etc/cm}
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: sec, secret: {secretName: sec, defaultMode: 0400}}
  - {name: cm, configMap: {name: app}}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    securityContext: {runAsUser: 1000}
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - {name: scratch, emptyDir: {}}
YAML
if wait_running grp && wait_running plain; then tap_pass "both pods run"
else tap_bail "pods not Running: $(k -n "$ns" get pods -o wide) $(vk_log_tail vk)"; fi
tap_is "$(in_pod grp main stat -c '%a %g' /scratch)" "2777 2000" "with fsGroup the emptyDir is 0777 + setgid, group 2000"
tap_is "$(in_pod grp main sh -c 'id -u; echo hi > /scratch/f && stat -c "%u %g" /scratch/f')" "1000
1000 2000" "user 1000 writes there; the file gets the group 2000 (setgid)"
tap_is "$(in_pod grp main stat -L -c '%a %g' /etc/sec/p)" "440 2000" "a 0400 Secret file gets the group and group read"
tap_is "$(in_pod grp main stat -L -c '%a %g' /etc/cm/a)" "644 2000" "a configMap file gets the group"
tap_is "$(in_pod grp main stat -c '%g' /etc/sec/..data/)" "2000" "the Secret's folders get the group too"
tap_is "$(in_pod plain main stat -c '%a' /scratch)" 777 "without fsGroup an emptyDir is 0777"
tap_is "$(in_pod plain main sh -c 'echo hi > /scratch/f && cat /scratch/f')" hi "and user 1000 can write there"
tap_done
