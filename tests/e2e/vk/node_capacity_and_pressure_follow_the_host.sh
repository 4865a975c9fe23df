#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# mynode's node status comes from the host, as kubelet's does.  vk runs in
# a memory and a cpu cgroup of the test's own (3Gi, 1.5 CPUs: lower than
# the machine), with pod_root on a 32Mi tmpfs of the test's own:
# - capacity is the cgroup's limits and the tmpfs' size, pods 110;
# - allocatable subtracts kube_reserved + system_reserved and kubelet's
#   default hard thresholds (memory.available 100Mi, nodefs.available 10%);
# - filling the tmpfs past nodefs.available<10% (the default) turns
#   DiskPressure True, with the signal in its message, and the node
#   lifecycle controller taints the node disk-pressure; emptying it turns
#   DiskPressure False again;
# - restarted with thresholds above what is free (memory.available,
#   pid.available), MemoryPressure and PIDPressure are True.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 12
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"

mkdir -p "$tmp/pods"
mount -t tmpfs -o size=32m tmpfs "$tmp/pods" || tap_bail "cannot mount a tmpfs at $tmp/pods"
on_exit "umount '$tmp/pods'"

# The test's cgroups (v1 memory + cpu, or one v2 group), removed once vk is gone.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	p=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
	cgroups=("/sys/fs/cgroup${p%/}/vk-$ns")
else
	mp=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
	cp=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' /proc/self/cgroup)
	cgroups=("/sys/fs/cgroup/memory${mp%/}/vk-$ns" "/sys/fs/cgroup/cpu${cp%/}/vk-$ns")
fi
mkdir "${cgroups[@]}" || tap_bail "cannot make cgroups ${cgroups[*]}"
on_exit "rmdir ${cgroups[*]}"
set_limits() {
	if ((${#cgroups[@]} == 1)); then
		echo 3G >"${cgroups[0]}/memory.max" && echo "150000 100000" >"${cgroups[0]}/cpu.max"
	else
		echo 3G >"${cgroups[0]}/memory.limit_in_bytes" && echo 150000 >"${cgroups[1]}/cpu.cfs_quota_us" &&
			[[ $(cat "${cgroups[1]}/cpu.cfs_period_us") == 100000 ]]
	fi
}
set_limits || tap_bail "cannot set memory and cpu limits in ${cgroups[*]} (controllers not delegated?)"

mynode_config
cat >>"$tmp/mynode.yaml" <<YAML
image_fs: $tmp/cri
kube_reserved: {cpu: 100m, memory: 100Mi}
system_reserved: {cpu: 100m, memory: 156Mi, ephemeral-storage: 4Mi}
eviction_pressure_transition_period: 0s
YAML
start_in_cgroups() { # NAME CONFIG
	vk_start "$1" "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$2"
	local pid_var=${1}_pid cg
	for cg in "${cgroups[@]}"; do echo "${!pid_var}" >"$cg/cgroup.procs"; done
}
start_in_cgroups vk "$tmp/mynode.yaml"
wait_until 30 node_is "$node" True || tap_bail "node not Ready"

jn() { k get node "$node" -o jsonpath="$1"; }
res() { jn "{.status.$1.cpu} {.status.$1.memory} {.status.$1.ephemeral-storage} {.status.$1.pods}"; }
cond() { jn "{.status.conditions[?(@.type==\"$1\")].status}"; }
cond_is() { [[ $(cond "$1") == "$2" ]]; }
# (the API server writes quantities in their canonical form: 3145728Ki is 3Gi)
want_cap="1500m 3Gi 32Mi 110"
cap_is() { [[ $(res capacity) == "$want_cap" ]]; }
wait_until 40 cap_is || true
tap_is "$(res capacity)" "$want_cap" "capacity: the cgroup's 1.5 CPUs and 3Gi, the tmpfs' 32Mi, 110 pods"
# cpu 1500m-200m; memory 3Gi-100Mi-156Mi-100Mi (memory.available);
# ephemeral 32Mi-4Mi-10% of 32Mi (nodefs.available) = 26004684.8 bytes = 25395Ki.
tap_is "$(res allocatable)" "1300m 2716Mi 25395Ki 110" \
	"allocatable: minus kube_reserved, system_reserved and the hard eviction thresholds"
tap_is "$(cond MemoryPressure) $(cond DiskPressure) $(cond PIDPressure)" "False False False" \
	"no pressure: MemoryPressure, DiskPressure, PIDPressure are False"

# 30Mi of 32Mi: nodefs.available is under kubelet's default 10%.
head -c $((30 << 20)) /dev/zero >"$tmp/pods/fill"
if wait_until 40 cond_is DiskPressure True; then tap_pass "filling pod_root's filesystem turns DiskPressure True"
else tap_fail "filling pod_root's filesystem turns DiskPressure True" "$(jn '{.status.conditions}')"; fi
tap_like "$(jn '{.status.conditions[?(@.type=="DiskPressure")].reason}: {.status.conditions[?(@.type=="DiskPressure")].message}')" \
	'^KubeletHasDiskPressure: vk has disk pressure: nodefs.available [0-9.]+Mi < 3.2Mi$' \
	"its reason and message name the signal and the threshold"
tainted() { [[ $(jn '{.spec.taints[?(@.key=="node.kubernetes.io/disk-pressure")].effect}') == NoSchedule ]]; }
if wait_until 40 tainted; then tap_pass "the node lifecycle controller taints the node disk-pressure:NoSchedule"
else tap_fail "the node lifecycle controller taints the node disk-pressure:NoSchedule" "$(jn '{.spec.taints}')"; fi
tap_is "$(cond MemoryPressure) $(cond PIDPressure)" "False False" "memory and PIDs stay without pressure"
rm -f "$tmp/pods/fill"
if wait_until 40 cond_is DiskPressure False; then tap_pass "emptying it turns DiskPressure False again"
else tap_fail "emptying it turns DiskPressure False again" "$(jn '{.status.conditions}')"; fi
said=$(grep -E 'node: DiskPressure is (True|False)' "$tmp/vk.log" | sed -E 's/.*node: DiskPressure is (True|False).*/\1/' | tr '\n' ' ')
if [[ $said == "True False " ]]; then tap_pass "vk logs each transition once"
else tap_fail "vk logs each transition once" "got: $said" "$(grep 'node: ' "$tmp/vk.log")"; fi

# Thresholds above what is free: memory.available beyond the 3Gi limit,
# pid.available at 100% of the PIDs.
vk_stop "$vk_pid" || true
sed -e 's/^eviction_pressure_transition_period:.*$/&\neviction_hard: {memory.available: 4Gi, pid.available: "100%"}/' \
	"$tmp/mynode.yaml" >"$tmp/pressure.yaml"
start_in_cgroups vk2 "$tmp/pressure.yaml"
both() { cond_is MemoryPressure True && cond_is PIDPressure True; }
if wait_until 40 both; then tap_pass "thresholds above the free memory and PIDs turn MemoryPressure and PIDPressure True"
else tap_fail "thresholds above the free memory and PIDs turn MemoryPressure and PIDPressure True" "$(jn '{.status.conditions}')"; fi
tap_like "$(jn '{.status.conditions[?(@.type=="MemoryPressure")].message}')" \
	'^vk has insufficient memory available: memory.available [0-9.]+[GMK]i < 4.0Gi$' "MemoryPressure names memory.available"
tap_is "$(cond DiskPressure)" False "DiskPressure stays False"
tap_done
