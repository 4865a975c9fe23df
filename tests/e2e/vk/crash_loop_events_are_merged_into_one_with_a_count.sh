#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Events are merged as client-go's EventCorrelator merges kubelet's: a
# container that keeps crashing makes one "Started" Event (and one
# "Created", one "BackOff") whose count grows and whose lastTimestamp moves
# on, not a new Event object per restart; the same reason with another
# message (another container) is an Event of its own.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 8
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready"

cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: crash, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sh, -c, "exit 1"]}
  - {name: steady, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
YAML
# kubelet's backoff: restarted at once, then after 10 s: three starts.
restarts() { k -n "$ns" get pod crash -o jsonpath='{.status.containerStatuses[?(@.name=="c")].restartCount}'; }
three_starts() { [[ $(restarts) -ge 2 ]]; }
wait_until 90 three_starts || tap_bail "no second restart: $(k -n "$ns" get pod crash -o jsonpath='{.status}')"
started() { # the Started Events about container c: "count first last" per object
	k -n "$ns" get events --field-selector involvedObject.name=crash,reason=Started -o json |
		jq -r '.items[] | select(.message == "Started container c") | "\(.count) \(.firstTimestamp) \(.lastTimestamp)"'
}
counted() { [[ $(started | wc -l) == 1 && $(started | cut -d' ' -f1) -ge 3 ]]; }
wait_until 30 counted || true
tap_is "$(started | wc -l | tr -d ' ')" 1 "one Started Event object for container c"
tap_like "$(started | cut -d' ' -f1)" '^([3-9]|[1-9][0-9]+)$' "its count is the number of starts (>= 3)"
read -r _ first lastts <<<"$(started)"
if [[ $lastts > $first ]]; then tap_pass "its lastTimestamp ($lastts) is after its firstTimestamp ($first)"
else tap_fail "its lastTimestamp is after its firstTimestamp" "first $first last $lastts"; fi
tap_like "$(k -n "$ns" get events --field-selector involvedObject.name=crash,reason=BackOff -o jsonpath='{range .items[*]}{.count} {.message}{"\n"}{end}')" \
	'^([2-9]|[1-9][0-9]+) Back-off restarting failed container c in pod crash_' "one BackOff Event, counted"
tap_is "$(k -n "$ns" get events --field-selector involvedObject.name=crash,reason=Started -o json |
	jq -r '[.items[] | select(.message == "Started container steady") | .count] | map(tostring) | join(",")')" 1 \
	"container steady's Started is an Event of its own, count 1"
tap_like "$(k -n "$ns" get events --field-selector involvedObject.name=crash \
	-o custom-columns=COUNT:.count,REASON:.reason,MESSAGE:.message 2>&1 | grep 'Started container c$' || true)" \
	'^([3-9]|[1-9][0-9]+) +Started' "kubectl get events shows one line with its count"
tap_like "$(k -n "$ns" describe pod crash 2>&1 | grep 'Started container c$' || true)" \
	'\(x[0-9]+ over [0-9a-z]+\)' "kubectl describe pod shows it as (xN over T)"
tap_is "$(k -n "$ns" get events --field-selector involvedObject.name=crash -o json |
	jq -r '[.items[] | select(.message | test("container:? c( |$)")) | .reason] | sort | join(",")')" \
	"BackOff,Created,Started" "container c's restarts are three Event objects in all: Created, Started, BackOff"
tap_done
