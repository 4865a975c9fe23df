#!/usr/bin/env bash
# vk-test-timeout: 1500
# A provider that misbehaves for some pods (tests/faults/providers/
# misbehaving.lua): a status of the wrong type, fields of the wrong types, a
# 10 MiB status, a create_pod that never returns (busy, or asleep), and a
# timer callback that raises.  Each gives a Warning Event on its pod and a
# log line naming it; the 20 other pods run, are deleted and created as
# usual meanwhile, vk stays up, and in the end every pod can be deleted but
# the one whose create_pod never returns (its delete waits for that call).
set -euo pipefail
source "$(dirname "$0")/lib.bash"
BAD=(wrong-type wrong-fields huge loop hang raise-timer)
declare -A REASON=([wrong-type]=ProviderStatusInvalid [wrong-fields]=FailedStatusUpdate [huge]=ProviderStatusTooLarge
	[loop]=ProviderCreateFailed [hang]=ProviderCreateSlow [raise-timer]=ProviderTimerFailed)
tap_plan $((2 * ${#BAD[@]} + 5))
vk_setup node
vk_start vk "$node" "$VK_ROOT/tests/faults/providers/misbehaving.lua" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready"

bad_yaml() { # NAME HOW
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns, annotations: {vk-test/bad: "$2"}}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: main, image: docker.io/library/busybox:1.35}
---
YAML
}
for b in "${BAD[@]}"; do bad_yaml "bad-$b" "$b"; done | k -n "$ns" apply -f - >/dev/null
pods_yaml "$node" $(seq -f 'ok%g' 1 20) | k -n "$ns" apply -f - >/dev/null

warnings() { # POD REASON
	k -n "$ns" get events --field-selector "involvedObject.name=$1,type=Warning,reason=$2" \
		-o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}' 2>/dev/null | cut -c1-200
}
has_warning() { [[ -n $(warnings "$1" "$2") ]]; }
logged() { grep -E ' (WARN|ERROR) .*'"$ns/$1"'[: ]' "$tmp/vk.log" | head -n 1 | cut -c1-300; }
has_log() { [[ -n $(logged "$1") ]]; }
for b in "${BAD[@]}"; do
	if wait_until 90 has_warning "bad-$b" "${REASON[$b]}"; then
		tap_pass "$b: a Warning Event on its pod: $(warnings "bad-$b" "${REASON[$b]}" | head -n 1)"
	else
		tap_fail "$b: a Warning Event ${REASON[$b]} on its pod" "waited for a Warning Event ${REASON[$b]} on bad-$b; saw these events:" \
			"$(k -n "$ns" get events --field-selector "involvedObject.name=bad-$b" -o jsonpath='{range .items[*]}{.type} {.reason}: {.message}{"\n"}{end}' | cut -c1-200)"
	fi
	if wait_until 30 has_log "bad-$b"; then
		tap_pass "$b: a log line naming the pod: $(logged "bad-$b" | cut -c1-160)"
	else
		tap_fail "$b: a log line naming the pod" "waited for a WARN or ERROR line naming $ns/bad-$b in vk's log"
	fi
done

seq -f 'ok%g' 1 20 | sort >"$tmp/ok.kept"
_ok_running() { [[ $(k -n "$ns" get pods --field-selector status.phase=Running -o name | grep -c '/ok') == 20 ]]; }
tap_ok "the 20 other pods are Running" wait_until 120 _ok_running
k -n "$ns" delete pod $(seq -f 'ok%g' 1 5) --wait=false >/dev/null
pods_yaml "$node" $(seq -f 'ok%g' 21 25) | k -n "$ns" apply -f - >/dev/null
_ok_moved() {
	[[ $(k -n "$ns" get pods --field-selector status.phase=Running -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | grep '^ok' | sort | xargs) == \
		"$(seq -f 'ok%g' 6 25 | sort | xargs)" ]]
}
tap_ok "meanwhile 5 other pods are deleted and 5 created as usual" wait_until 120 _ok_moved
_huge_not_written() { ! k -n "$ns" get pod bad-huge -o json | jq -e '[.status.conditions[]?.message // "" | length] | max > 1000000' >/dev/null; }
tap_ok "the 10 MiB status was not written to the API" _huge_not_written
if pid_alive "$vk_pid" && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/vk.log"; then
	tap_pass "vk is alive, no sanitizer report"
else
	tap_fail "vk is alive, no sanitizer report" "$(tail -n 30 "$tmp/vk.log")"
fi
k -n "$ns" delete pods --all --wait=false >/dev/null
_none() { [[ $(k -n "$ns" get pods -o name | xargs) == pod/bad-hang ]]; }
if wait_until 120 _none; then
	tap_pass "every pod can be deleted, the misbehaving ones too (but bad-hang, whose create_pod still runs)"
else
	tap_fail "every pod can be deleted, the misbehaving ones too (but bad-hang)" "left: $(k -n "$ns" get pods -o name | xargs)"
fi
tap_done
