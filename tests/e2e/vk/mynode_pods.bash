# shellcheck shell=bash
# shellcheck disable=SC2154 # assigned by name: tmp, ns, node (common.bash)
# Helpers for the tests of mynode's pod lifecycle (probes, hooks, sidecars,
# init containers, termination messages, deadlines), on top of common.bash:
# mynode_up starts a control plane (or joins the suite's), containerd and
# vk with providers/mynode.lua as $node; pods are applied with `apply`.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

mynode_up() {
	vk_setup node
	containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
	mynode_config
	vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
	wait_until 15 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
}

# The YAML on stdin, each pod bound to $node and tolerating the taint
# (write `nodeName: NODE` and `tolerations: TOL` in it).
apply() {
	sed -e "s/nodeName: NODE/nodeName: $node/" \
		-e "s/tolerations: TOL/tolerations: [{key: virtual-kubelet.io\/provider, operator: Exists}]/" |
		k -n "$ns" apply -f - >/dev/null
}

jp() { k -n "$ns" get pod "$1" -o jsonpath="$2" 2>/dev/null; }
# CONTAINER's status in POD: containerStatuses, or initContainerStatuses with KIND=init.
cst() { # POD CONTAINER JSONPATH-TAIL [init]
	local list=containerStatuses
	[[ ${4:-} == init ]] && list=initContainerStatuses
	jp "$1" "{.status.${list}[?(@.name==\"$2\")]$3}"
}
events() { k -n "$ns" get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'; }
has_event() { events "$1" | grep -qF -- "$2"; }
# The newest container of POD named NAME in containerd (any state).
cid_of() {
	cri ps -a -q --label "io.kubernetes.pod.uid=$(jp "$1" '{.metadata.uid}')" --label "io.kubernetes.container.name=$2" |
		head -1
}
# Nothing left in containerd nor in the API (vk has finished each deletion).
no_sandbox_left() { [[ -z $(cri pods -q --label "vk.io/node=$node") && -z $(k -n "$ns" get pods -o name) ]]; }
