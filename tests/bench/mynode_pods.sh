#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Create-to-Running latency of providers/mynode.lua on the real control plane
# and a real containerd, and vk's RSS with N real pods.
#
#   tests/bench/mynode_pods.sh [N]        (default 20; VK_BIN picks the vk binary:
#                                          use a build without -Dsanitize for RSS)
#
# Pods are created one at a time (kubectl apply) and each is timed from the
# apply to the first poll (every 50 ms) that sees it Running.  Prints p50,
# p99 and max, then VmRSS/VmHWM of vk with all N pods running.
# shellcheck source-path=SCRIPTDIR/../e2e
set -euo pipefail
source "$(dirname "$0")/../e2e/vk/common.bash"
n=${1:-20}
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "containerd-up.sh failed"
cat >"$tmp/mynode.yaml" <<YAML
runtime_endpoint: $CRI_ENDPOINT
log_root: $tmp/podlogs
pod_root: $tmp/pods
node_ip: 127.0.0.1
sync_ms: 1000
YAML
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml"
wait_until 15 node_is "$node" True || tap_bail "node not Ready"

now_ms() { date +%s%3N; }
times=()
for i in $(seq 1 "$n"); do
	t0=$(now_ms)
	k -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: p$i}
spec:
  nodeSelector: {kubernetes.io/hostname: $node}
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}]
YAML
	until [[ $(pod_phase "p$i") == Running ]]; do
		(($(now_ms) - t0 < 60000)) || tap_bail "p$i not Running after 60 s"
		sleep 0.05
	done
	times+=($(($(now_ms) - t0)))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
pct() { awk -v p="$1" '{ a[NR] = $1 } END { i = int((NR - 1) * p / 100 + 0.5) + 1; print a[i] }' <<<"$sorted"; }
echo "create->Running over $n pods (ms): p50 $(pct 50)  p99 $(pct 99)  max $(tail -1 <<<"$sorted")"
echo "all: ${times[*]}"
running=$(cri ps -q --label "vk.io/node=$node" --state Running | wc -l)
echo "containers running in containerd: $running"
grep -E '^(VmRSS|VmHWM)' "/proc/$vk_pid/status" | tr -s ' \t' ' '
k -n "$ns" delete pods --all --wait=false >/dev/null
gone() { [[ -z $(cri pods -q --label "vk.io/node=$node") ]]; }
wait_until 120 gone || echo "sandboxes left: $(cri pods -q | wc -l)"
