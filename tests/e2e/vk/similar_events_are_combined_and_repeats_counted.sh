#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# client-go's EventCorrelator, as vk's event recorder does it:
# - the same event again (a create_pod that keeps failing: the core's
#   ProviderCreateFailed on every retry) is one Event whose count grows;
# - events alike but for their message (the same object, type and reason):
#   the first 9 distinct messages are Events of their own, and from the
#   10th on they are combined into one Event, "(combined from similar
#   events): " and the latest message, counted.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 6
vk_setup node
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua"
wait_until 30 node_is "$node" True || tap_bail "node not Ready"

cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata:
  name: broken
  namespace: $ns
  annotations: {vk-test/create: error}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: chatty
  namespace: $ns
  annotations: {vk-test/events: "15 Tested"}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers: [{name: c, image: busybox}]
YAML

failed() { # "count" per ProviderCreateFailed Event object of pod broken
	k -n "$ns" get events --field-selector involvedObject.name=broken,reason=ProviderCreateFailed -o json |
		jq -r '.items[] | .count'
}
retried() { [[ $(failed | wc -l) == 1 && $(failed) -ge 3 ]]; }
wait_until 60 retried || true
tap_is "$(failed | wc -l | tr -d ' ')" 1 "a create_pod that keeps failing: one ProviderCreateFailed Event"
tap_like "$(failed | head -1)" '^([3-9]|[1-9][0-9]+)$' "... whose count grows with the retries"

tested() {
	k -n "$ns" get events --field-selector involvedObject.name=chatty,reason=Tested -o json |
		jq -r '.items | sort_by(.message) | .[] | "\(.count) \(.message)"'
}
all_in() { [[ $(tested | awk '{s += $1} END {print s}') == 15 ]]; }
wait_until 60 all_in || true
tap_is "$(tested | grep -c '^1 event number [1-9]$')" 9 "the first 9 distinct messages are 9 Events, count 1"
tap_is "$(tested | grep -c 'combined')" 1 "the later ones are one combined Event"
tap_is "$(tested | grep combined)" "6 (combined from similar events): event number 15" \
	"... counted (6) and with the latest message"
tap_is "$(tested | awk '{s += $1} END {print s}')" 15 "no event is lost: the counts add up to 15"
tap_done
