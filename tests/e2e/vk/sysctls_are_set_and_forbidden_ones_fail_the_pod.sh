#!/usr/bin/env bash
# securityContext.sysctls as kubelet 1.35 admits them: the safe set is
# allowed by default, names written with slashes are accepted, one listed in
# mynode's allowed_unsafe_sysctls is allowed too, and each is set on the pod
# sandbox through the CRI: the container reads the values from /proc/sys.  A
# sysctl not allowed leaves the pod Failed with reason SysctlForbidden and
# kubelet's message, a Warning Event, and no sandbox.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 8
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
printf 'allowed_unsafe_sysctls: ["net.core.somaxconn"]\n' >>"$tmp/mynode.yaml"
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

sysctl_pod() { # NAME SYSCTLS_YAML
	k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  securityContext:
    sysctls: $2
  containers:
  - name: c
    image: $BUSYBOX_IMAGE
    command: [sleep, "3600"]
YAML
}
sysctl_pod tuned '[{name: net.ipv4.ip_local_port_range, value: "40000 50000"},
      {name: net/ipv4/tcp_keepalive_time, value: "600"}, {name: kernel.shm_rmid_forced, value: "1"},
      {name: net.core.somaxconn, value: "1234"}]'
wait_until 60 pod_is tuned Running || tap_bail "pod not Running: $(k -n "$ns" get pod tuned -o yaml | tail -20; vk_log_tail vk 10)"
uid=$(k -n "$ns" get pod tuned -o jsonpath='{.metadata.uid}')
cid=$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --name '^c$' --state Running | head -n 1)
[[ -n $cid ]] || tap_bail "no running container for the pod"
in_c() { cri exec "$cid" cat "/proc/sys/$1" 2>&1 | tr '\t' ' '; }
tap_is "$(in_c net/ipv4/ip_local_port_range)" "40000 50000" "a safe sysctl is set in the pod's network namespace"
tap_is "$(in_c net/ipv4/tcp_keepalive_time)" "600" "a name written with slashes is accepted and set"
tap_is "$(in_c kernel/shm_rmid_forced)" "1" "an IPC sysctl is set in the pod's IPC namespace"
tap_is "$(in_c net/core/somaxconn)" "1234" "a sysctl from allowed_unsafe_sysctls is set"

sysctl_pod forbidden '[{name: kernel.msgmax, value: "65536"}]'
failed() { [[ $(k -n "$ns" get pod forbidden -o jsonpath='{.status.phase}/{.status.reason}') == Failed/SysctlForbidden ]]; }
if wait_until 30 failed; then tap_pass "a sysctl not allowed leaves the pod Failed with reason SysctlForbidden"
else tap_fail "a sysctl not allowed leaves the pod Failed with reason SysctlForbidden" \
	"$(k -n "$ns" get pod forbidden -o jsonpath='{.status}')" "$(vk_log_tail vk 10)"; fi
tap_is "$(k -n "$ns" get pod forbidden -o jsonpath='{.status.message}')" \
	'Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted' "with kubelet's message"
event() { k -n "$ns" get events --field-selector involvedObject.name=forbidden,reason=SysctlForbidden \
	-o jsonpath='{.items[0].type}: {.items[0].message}' 2>/dev/null; }
wait_until 15 event >/dev/null 2>&1 || true
tap_is "$(event)" 'Warning: forbidden sysctl: "kernel.msgmax" not allowlisted' "and a Warning Event"
fuid=$(k -n "$ns" get pod forbidden -o jsonpath='{.metadata.uid}')
tap_is "$(cri pods -q --label "io.kubernetes.pod.uid=$fuid" | wc -l)" 0 "no sandbox was made for it"
tap_done
