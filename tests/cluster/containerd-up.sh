#!/usr/bin/env bash
# Starts containerd (Debian's, with runc) for tests, side by side with any
# other containerd: its own root, state, config and CRI socket under DIR, the
# CRI plugin on, a CNI bridge of its own, and two locally built images
# imported (docker.io/library/busybox:1.35 and the sandbox image).
#
#   tests/cluster/containerd-up.sh DIR
#
# Writes DIR/containerd.sock, DIR/containerd/ (root, state, config.toml),
# DIR/cni/net.d/, DIR/crictl.yaml, DIR/containerd.env (variables for tests),
# DIR/pids/containerd.pid and DIR/logs/containerd.log.
# tests/cluster/containerd-down.sh DIR undoes it all.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog=containerd-up # read by log() in common.sh
(($# == 1)) || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"

if id=$(recorded_id containerd) && pid_is_ours "$id"; then
	log "containerd already runs for $dir; run containerd-down.sh first"
	exit 1
fi
# A unix socket path is limited to 108 bytes; the shim's ttrpc socket adds
# a suffix, so keep a margin.
sock=$dir/containerd.sock
((${#sock} < 90)) || { log "DIR path too long for a unix socket: $sock"; exit 2; }

images=$("$here/images.sh")
crictl=$("$here/build.sh" crictl)/crictl
t0=$(date +%s.%N)

ok=0
on_exit() {
	((ok)) && return 0
	log "start-up failed; stopping what was started"
	"$here/containerd-down.sh" "$dir" >/dev/null 2>&1 || true
}
trap on_exit EXIT
trap "exit 130" INT
trap "exit 143" TERM

cdir=$dir/containerd
mkdir -p "$cdir/root" "$cdir/state" "$cdir/opt" "$dir/cni/net.d" "$dir/cni/ipam" "$dir/pods" "$dir/logs" "$dir/pids" \
	"$dir/certs.d"

# ---- CNI: a bridge and a /24 that differ per DIR ---------------------------
bridge=vkbr$(short_hash "$dir" 8)
octet=$((16#$(short_hash "$dir" 2)))
# The bridge appears only with the first pod, and other containerds start
# at the same time (tests/run.sh runs e2e tests side by side): a /24 is
# also reserved, under a lock, by a file /run/lock/vk-cni/OCTET holding
# DIR until containerd-down.sh; a reservation whose DIR is gone is stale.
mkdir -p /run/lock/vk-cni
exec 8>/run/lock/vk-cni.lock
flock 8
reserved_by_other() { # OCTET
	local owner
	owner=$(cat "/run/lock/vk-cni/$1" 2>/dev/null) || return 1
	[[ $owner != "$dir" && -d $owner ]]
}
for _ in $(seq 256); do
	! reserved_by_other "$octet" &&
		[[ -z $(ip -4 -o addr show to "10.88.$octet.0/24" 2>/dev/null) &&
			-z $(ip -4 route show "10.88.$octet.0/24" 2>/dev/null) ]] && break
	octet=$(((octet + 1) % 256))
done
echo "$dir" >"/run/lock/vk-cni/$octet"
flock -u 8
exec 8>&-
subnet=10.88.$octet.0/24
# No ipMasq: tests send no traffic out of pods, and it would need iptables.
cat >"$dir/cni/net.d/10-vk.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "vk-$bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$subnet" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$dir/cni/ipam"
      }
    }
  ]
}
EOF

# ---- containerd -------------------------------------------------------------
pause_image=registry.k8s.io/pause:3.9
busybox_image=docker.io/library/busybox:1.35
# restrict_oom_score_adj: this machine lacks CAP_SYS_RESOURCE, so runc must
# not try to lower a sandbox's oom_score_adj (see docs/testing.md, "What the harness needs").
cat >"$cdir/config.toml" <<EOF
version = 2
root = "$cdir/root"
state = "$cdir/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$cdir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

  # A test that runs a registry writes certs.d/HOST:PORT/hosts.toml here
  # (read at each pull).
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
    max_conf_num = 1
EOF

log "starting containerd (CRI at $sock, bridge $bridge, pods in $subnet)"
start_proc containerd containerd --config "$cdir/config.toml" \
	--root "$cdir/root" --state "$cdir/state" --address "$sock"

# CRI Version over gRPC with curl: answered with grpc-status 0 once the CRI
# plugin serves.
cri_version() {
	curl -s --max-time 2 --http2-prior-knowledge --unix-socket "$sock" \
		-H 'content-type: application/grpc' -H 'te: trailers' \
		--data-binary @<(printf '\0\0\0\0\0') -o /dev/null -D - \
		http://localhost/runtime.v1.RuntimeService/Version | tr -d '\r' | grep -qx 'grpc-status: 0'
}
wait_for containerd 30 cri_version

ctr=(ctr -n k8s.io --address "$sock")
"${ctr[@]}" images import --base-name docker.io/library/busybox "$images/busybox.tar" >/dev/null
"${ctr[@]}" images import --base-name registry.k8s.io/pause "$images/pause.tar" >/dev/null
for img in "$busybox_image" "$pause_image"; do
	"${ctr[@]}" images check "name==$img" | grep -q complete ||
		{ log "image $img missing after import"; show_log containerd; exit 1; }
done

cat >"$dir/crictl.yaml" <<EOF
runtime-endpoint: unix://$sock
image-endpoint: unix://$sock
timeout: 30
debug: false
pull-image-on-create: false
EOF
# The CRI reports NetworkReady once it has loaded the CNI config.
network_ready() {
	"$crictl" --config "$dir/crictl.yaml" info -o json 2>/dev/null |
		jq -e '.status.conditions[] | select(.type == "NetworkReady") | .status' >/dev/null
}
wait_for containerd 30 network_ready

{
	printf 'CONTAINERD_DIR=%q\n' "$dir"
	printf 'CRI_SOCK=%q\n' "$sock"
	printf 'CRI_ENDPOINT=%q\n' "unix://$sock"
	printf 'CRICTL=%q\n' "$crictl"
	printf 'CRICTL_CONFIG=%q\n' "$dir/crictl.yaml"
	printf 'CNI_BRIDGE=%q\n' "$bridge"
	printf 'POD_SUBNET=%q\n' "$subnet"
	printf 'BUSYBOX_IMAGE=%q\n' "$busybox_image"
	printf 'PAUSE_IMAGE=%q\n' "$pause_image"
	printf 'POD_LOG_DIR=%q\n' "$dir/pods"
	printf 'REGISTRY_HOSTS_DIR=%q\n' "$dir/certs.d"
	printf 'IMAGES_DIR=%q\n' "$images"
} >"$dir/containerd.env"

ok=1
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "containerd ready in $took s"
