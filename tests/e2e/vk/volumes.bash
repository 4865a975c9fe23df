# shellcheck shell=bash
# shellcheck disable=SC2154 # tmp, ns, node: set by vk_setup (common.bash)
# Helpers for the tests of mynode's volumes, on top of common.bash: vk with
# providers/mynode.lua on the test's own containerd, and a look inside a
# pod's container.

# mynode_up [CONFIG_LINES]: containerd, mynode's config (plus these lines,
# e.g. "volume_sync_ms: 500"), vk as $node; waits for the node to be Ready.
mynode_up() {
	containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
	mynode_config
	[[ -z ${1:-} ]] || printf '%s\n' "$1" >>"$tmp/mynode.yaml"
	vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
	wait_until 15 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
}

# The running container CONTAINER of pod POD (crictl's id).
ctr_of() { # POD CONTAINER
	local uid
	uid=$(k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}')
	cri ps -q --state Running --label "io.kubernetes.pod.uid=$uid" --label "io.kubernetes.container.name=$2" | head -1
}

# Runs CMD... in container CONTAINER of pod POD.
in_pod() { # POD CONTAINER CMD...
	local id
	id=$(ctr_of "$1" "$2")
	[[ -n $id ]] || { echo "no running container $2 in pod $1"; return 1; }
	shift 2
	cri exec "$id" "$@"
}

# The pod's folder of volumes of KIND on the host (mynode's pod_root).
vol_dir() { # POD KIND NAME
	local uid
	uid=$(k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}')
	echo "$tmp/pods/$uid/volumes/kubernetes.io~$2/$3"
}

# The pod's Warning Events as "REASON: MESSAGE" lines.
pod_warnings() { # POD
	k -n "$ns" get events --field-selector "involvedObject.name=$1,type=Warning" \
		-o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'
}

# wait_until's check that pod POD is Running, with its status when not.
wait_running() { # POD [TIMEOUT]
	wait_until "${2:-60}" pod_is "$1" Running
}
