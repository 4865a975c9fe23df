#!/usr/bin/env bash
# After tests/cluster/down.sh and containerd-down.sh, nothing that up.sh and
# containerd-up.sh started is left: no recorded PID, no containerd shim or
# container process, no process naming DIR, no mount under DIR, no bridge.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/../lib.sh"
tap_plan 8

tmp=""
tmp_dir tmp
dir=$tmp/all # one DIR for both, as vk's e2e tests use them
cluster_up "$dir" vk-node-a || tap_bail "tests/cluster/up.sh failed"
containerd_up "$dir" || tap_bail "tests/cluster/containerd-up.sh failed"

# A running pod, so that containerd has a shim and a container to clean up.
cat >"$tmp/pod.json" <<JSON
{ "metadata": { "name": "sleeper", "namespace": "vk-harness", "uid": "teardown-1", "attempt": 0 },
  "log_directory": "$POD_LOG_DIR/sleeper", "linux": {} }
JSON
cat >"$tmp/ctr.json" <<JSON
{ "metadata": { "name": "sleep" }, "image": { "image": "$BUSYBOX_IMAGE" },
  "command": [ "sleep", "3600" ], "log_path": "sleep.log", "linux": {} }
JSON
pod=$(cri runp "$tmp/pod.json" 2>/dev/null) || tap_bail "RunPodSandbox failed"
ctr=$(cri create "$pod" "$tmp/ctr.json" "$tmp/pod.json" 2>/dev/null) || tap_bail "CreateContainer failed"
cri start "$ctr" >/dev/null 2>&1 || tap_bail "StartContainer failed"

# Each pid file holds "PID:START"; the PID is what must be gone.
mapfile -t recorded < <(cut -d: -f1 "$dir"/pids/*.pid)
mapfile -t shims < <(pgrep -f -- "^[^ ]*containerd-shim[^ ]* .*-address $CRI_SOCK" || true)
container_pid=$(cri inspect "$ctr" 2>/dev/null | jq -r '.info.pid')
running=$(pid_alive "$container_pid" && echo running || echo "not running (pid '$container_pid')")
tap_is "${#recorded[@]} ${#shims[@]} $running" "5 1 running" \
	"before: 5 recorded PIDs (etcd, apiserver, controller-manager, scheduler, containerd), 1 shim, the container runs"

tap_ok "down.sh stops the control plane" cluster_down "$dir"
tap_ok "containerd-down.sh stops containerd and its pods" containerd_down "$dir"

alive=()
for pid in "${recorded[@]}" "${shims[@]}" "$container_pid"; do
	if pid_alive "$pid"; then alive+=("$pid"); fi
done
tap_is "${alive[*]}" "" "no recorded PID, shim or container process is alive"
tap_is "$(pgrep -af -- "$dir" || true)" "" "pgrep -f DIR finds no process"
tap_is "$(ls "$dir/pids")" "" "no PID file is left"
tap_is "$(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo)" "" "nothing is mounted under DIR"
tap_is "$(ip -o link show "$CNI_BRIDGE" 2>/dev/null)" "" "the CNI bridge $CNI_BRIDGE is deleted"
tap_done
