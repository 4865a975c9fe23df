#!/usr/bin/env bash
# virtual-kubelet's Events for env resolution, recorded on the pod beside
# kubelet's CreateContainerConfigError: each Mandatory*/Optional* NotFound
# and KeyNotFound reason, with virtual-kubelet's message, read back with
# kubectl.  The optional ones are recorded while the pod goes on to run.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 15
vk_setup node
printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k -n "$ns" create configmap cfg --from-literal=color=blue >/dev/null
k -n "$ns" create secret generic sec --from-literal=user=admin >/dev/null

# events POD REASON: the messages of the pod's Events with that reason.
events() {
	k -n "$ns" get events --field-selector "involvedObject.name=$1,reason=$2" \
		-o jsonpath='{range .items[*]}{.type} {.message}{"\n"}{end}' 2>/dev/null | sort -u
}
has_event() { [[ -n $(events "$1" "$2") ]]; }

env_pod opt '    envFrom:
    - configMapRef: {name: no-cm, optional: true}
    - secretRef: {name: no-sec, optional: true}
    env:
    - name: A
      valueFrom: {configMapKeyRef: {name: cfg, key: absent, optional: true}}
    - name: B
      valueFrom: {secretKeyRef: {name: sec, key: absent, optional: true}}
    - name: C
      valueFrom: {configMapKeyRef: {name: no-cm2, key: k, optional: true}}
    - name: D
      valueFrom: {secretKeyRef: {name: no-sec2, key: k, optional: true}}'
env_pod m-cm '    env:
    - name: A
      valueFrom: {configMapKeyRef: {name: no-cm, key: k}}'
env_pod m-cmkey '    env:
    - name: A
      valueFrom: {configMapKeyRef: {name: cfg, key: absent}}'
env_pod m-sec '    envFrom:
    - secretRef: {name: no-sec}'
env_pod m-seckey '    env:
    - name: A
      valueFrom: {secretKeyRef: {name: sec, key: absent}}'

wait_until 20 pod_is opt Running || tap_bail "pod opt not Running: $(tail -5 "$tmp/vk.log")"
# Events go out asynchronously (rate-limited, behind status writes): wait for each.
for r in OptionalConfigMapNotFound OptionalSecretNotFound OptionalConfigMapKeyNotFound OptionalSecretKeyNotFound; do
	wait_until 20 has_event opt "$r" || true
done
tap_is "$(events opt OptionalConfigMapNotFound)" \
	$'Warning configmap "no-cm" not found\nWarning skipping optional envvar "C": configmap "no-cm2" not found' \
	"OptionalConfigMapNotFound for envFrom and for env, and the pod runs"
tap_is "$(events opt OptionalSecretNotFound)" \
	$'Warning secret "no-sec" not found\nWarning skipping optional envvar "D": secret "no-sec2" not found' \
	"OptionalSecretNotFound for envFrom and for env"
tap_is "$(events opt OptionalConfigMapKeyNotFound)" \
	'Warning skipping optional envvar "A": key "absent" does not exist in configmap "cfg"' \
	"OptionalConfigMapKeyNotFound names the variable, key and ConfigMap"
tap_is "$(events opt OptionalSecretKeyNotFound)" \
	'Warning skipping optional envvar "B": key "absent" does not exist in secret "sec"' \
	"OptionalSecretKeyNotFound names the variable, key and Secret"
tap_is "$(events opt CreateContainerConfigError)" "" "a pod whose optional references are missing has no CreateContainerConfigError"

check_mandatory() { # POD REASON MESSAGE KUBELET_MESSAGE
	wait_until 20 has_event "$1" "$2" || true
	tap_is "$(events "$1" "$2")" "Warning $3" "$2 with virtual-kubelet's message"
	wait_until 20 has_event "$1" CreateContainerConfigError || true
	tap_is "$(events "$1" CreateContainerConfigError)" "Warning $4" \
		"... and kubelet's CreateContainerConfigError beside it"
}
check_mandatory m-cm MandatoryConfigMapNotFound 'configmap "no-cm" not found' 'configmap "no-cm" not found'
check_mandatory m-cmkey MandatoryConfigMapKeyNotFound 'key "absent" does not exist in configmap "cfg"' \
	"couldn't find key absent in ConfigMap $ns/cfg"
check_mandatory m-sec MandatorySecretNotFound 'secret "no-sec" not found' 'secret "no-sec" not found'
check_mandatory m-seckey MandatorySecretKeyNotFound 'key "absent" does not exist in secret "sec"' \
	"couldn't find key absent in Secret $ns/sec"
tap_is "$(pod_phase m-cm),$(pod_phase m-cmkey),$(pod_phase m-sec),$(pod_phase m-seckey)" \
	"Pending,Pending,Pending,Pending" "pods with a missing mandatory reference stay Pending"
reasons=$(k -n "$ns" get events -o jsonpath='{.items[*].reason}')
if [[ -n $reasons && $reasons != *FailedToRead* ]]; then
	tap_pass "no FailedToRead* event when every read succeeded"
else
	tap_fail "no FailedToRead* event when every read succeeded" "reasons: $reasons"
fi
tap_done
