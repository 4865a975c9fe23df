#!/usr/bin/env bash
# vk-test-timeout: 1500
# containerd is killed with SIGKILL while mynode runs 20 pods (and the
# recorder, beside it, 200), down for 3 s, and started again.  The
# containers keep running under their shims, so vk must re-create nothing:
# the same container ids, no restart counted, every pod Running and Ready
# in the API right afterwards, one sandbox per pod, nothing left after the
# deletes.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
tap_plan 13
faults_up

pods_yaml "$node" $(seq -f 'c%g' 1 20) | k_retry -n "$ns" apply -f -
pods_yaml "$nodem" $(seq -f 'm%g' 1 200) | k_retry -n "$ns" apply -f -
seq -f 'c%g' 1 20 | sort >"$tmp/c.kept"
seq -f 'm%g' 1 200 | sort >"$tmp/m.kept"
wait_until 240 all_running "$node" 20 || tap_bail "the 20 mynode pods are not Running"
wait_until 240 all_running "$nodem" 200 || tap_bail "the 200 recorder pods are not Running"
# What runs, as containerd and as the API say it.
cids() { cri ps -q --state running --label "vk.io/node=$node" | sort; }
api_cids() {
	k -n "$ns" get pods --field-selector "spec.nodeName=$node" \
		-o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}{"\n"}{end}' |
		sort
}
before=$(cids)
api_before=$(api_cids)
tap_is "$(grep -c . <<<"$before")" 20 "20 containers run in containerd before the fault"

VK_RESTART_SIGNAL=KILL "$VK_CLUSTER/restart.sh" "$CONTAINERD_DIR" containerd 3 >>"$tmp/restarts.log" 2>&1 ||
	tap_bail "restarting containerd failed: $(tail -5 "$tmp/restarts.log")"
wait_until 60 cri version >/dev/null || tap_bail "containerd does not answer after its restart"
fault_end=$EPOCHREALTIME
tap_diag "containerd killed, down 3 s, answering again"

check_ready_after "after the containerd restart" "$node" "$fault_end"
tap_is "$(cids)" "$before" "the same 20 containers run after the restart (ids unchanged: nothing re-created)"
# A status round or two (--status-interval 1000) after containerd is back.
sleep 3
tap_is "$(api_cids)" "$api_before" "the API's statuses right afterwards: same container ids, restartCount 0, ready"
_no_new() { [[ $(cri ps -a -q --label "vk.io/node=$node" | wc -l) == 20 ]]; }
tap_ok "no container was started again (20 in all states)" _no_new
check_kept "recorder, 200 pods" "$nodem" "$tmp/m.kept"
check_kept "mynode, 20 pods" "$node" "$tmp/c.kept"
check_one_sandbox "containerd restart"
check_alive "containerd restart"
check_clean "containerd restart"
tap_done
