# The body of restart_while_partitioned_keeps_mynode_containers_*.sh, run
# once per store backend ($backend): 20 mynode pods (real containers), the
# link to the API server cut, vk restarted in the middle of the outage, a
# container killed while cut off, the link back.  Asserts:
#   - the restarted vk starts without the API server, from the store, and
#     keeps every sandbox and container (same IDs; none made or removed);
#   - the killed container is restarted by the provider in its sandbox;
#   - 0 pod creates or deletes by the node identity (the API audit log);
#   - after the link returns the node is Ready and the statuses caught up
#     (the restart shows in the API).
# shellcheck shell=bash
# shellcheck disable=SC2154 # backend is set by the sourcing script; vk_pid by vk_start_relayed (persist.bash)
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/persist.bash"
(($(id -u) == 0)) || { echo "1..0 # SKIP containerd needs root"; exit 77; }
if ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then echo "1..0 # SKIP containerd/runc not installed"; exit 77; fi
tap_plan 10
# A control plane of its own: the audit log counts the node's pod writes.
unset VK_TEST_CLUSTER
export VK_AUDIT=1
vk_setup node
[[ -f $CLUSTER_DIR/logs/audit.log ]] || tap_bail "up.sh wrote no audit log (VK_AUDIT=1)"
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
store_start "$backend"
store_relay_start "$node"
mynode_config
vk_args=(--provider-config "$tmp/mynode.yaml" --status-interval 1000 --store "$store_url" --state-dir "$tmp/state")
vk_start_relayed vk "$node" "$VK_ROOT/providers/mynode.lua" "${vk_args[@]}"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"

N=20
for ((i = 1; i <= N; i++)); do
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: p$i, namespace: $ns}
spec:
  nodeName: $node
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute}
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute}
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
---
YAML
done | k apply -f - >/dev/null
running() { [[ $(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running) == "$N" ]]; }
wait_until 180 running || tap_bail "pods not Running: $(vk_log_tail vk)"
sleep 2 # the store's write-behind and resourceVersion catch up

sandboxes() { cri pods -q | sort; }
containers() { cri ps -a -q | sort; }
sb0=$(sandboxes) ct0=$(containers)
tap_is "$(wc -l <<<"$sb0") $(wc -l <<<"$ct0")" "$N $N" "$N sandboxes and $N containers run"

link_down
# vk notices (its watch ends); then it is restarted in the middle of the outage.
sleep 3
vk_stop "$vk_pid" || true
vk_start_relayed vk2 "$node" "$VK_ROOT/providers/mynode.lua" "${vk_args[@]}"
from_store() { grep -q 'pods from the store' "$tmp/vk2.log"; }
if wait_until 30 from_store; then tap_pass "vk restarted while cut off starts from the store"; else tap_fail "vk restarted while cut off starts from the store" "$(vk_log_tail vk2)"; fi
sleep 5 # several supervisor rounds and reconcile passes without the API
tap_is "$(sandboxes)" "$sb0" "every sandbox keeps its ID while cut off (none made or removed)"
tap_is "$(containers)" "$ct0" "every container keeps its ID while cut off"

# A container that dies while cut off is restarted by the provider.
victim=$(cri ps --name main -q | sed -n 1p)
victim_pod=$(cri inspect "$victim" | grep -o '"io.kubernetes.pod.name": "[^"]*"' | sed -n 1p | sed 's/.*: "//; s/"$//')
cri stop -t 0 "$victim" >/dev/null
restarted() { [[ $(cri ps -q | wc -l) == "$N" && $(containers | wc -l) == $((N + 1)) ]]; }
if wait_until 30 restarted; then tap_pass "a container killed while cut off is restarted"; else tap_fail "a container killed while cut off is restarted" "$(cri ps -a)" "$(vk_log_tail vk2)"; fi

link_up
if wait_until 60 node_is "$node" True; then tap_pass "the node is Ready once the link is back"; else tap_fail "the node is Ready once the link is back" "$(vk_log_tail vk2)"; fi
caught_up() { [[ $(k -n "$ns" get pod "$victim_pod" -o jsonpath='{.status.containerStatuses[0].restartCount}') == 1 ]]; }
if [[ -n $victim_pod ]] && wait_until 30 caught_up; then tap_pass "the statuses caught up ($victim_pod shows its restart)"; else tap_fail "the statuses caught up ($victim_pod shows its restart)" "$(k -n "$ns" get pod "$victim_pod" -o yaml | tail -30)"; fi
sleep 3
tap_is "$(sandboxes)" "$sb0" "after the reconnect every sandbox still has its ID"
writes=$("$VK_CLUSTER/audit-pods.sh" "$CLUSTER_DIR/logs/audit.log" "$ns" | awk -v u="system:node:$node" '$1 == u && ($2 == "create" || $2 == "delete")')
tap_is "$(grep -c . <<<"$writes" || true)" 0 "no pod created or deleted by the node identity"
tap_is "$(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l)" "$N" "all $N pods are Running"
tap_done
