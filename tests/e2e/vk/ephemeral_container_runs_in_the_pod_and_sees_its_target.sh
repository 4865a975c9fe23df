#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Ephemeral containers as kubelet 1.35 runs them: `kubectl debug POD
# --image=... --target=c -- CMD` adds one through the ephemeralcontainers
# subresource; vk hands the change to mynode (with its env resolved), which
# starts it in the running sandbox, in the process namespace of the target
# container (CRI NamespaceMode TARGET): its output (read from its log) lists
# the target's process.  status.ephemeralContainerStatuses reports it,
# terminated with its exit code, and it is not restarted.  One without a
# target has its own process namespace; one whose image cannot be pulled
# waits with ErrImagePull.  The pod's own container is left as it was.  One added while vk is stopped runs once vk is back (the re-adopted
# pod's ephemeral containers are handed over), and those that ran already
# are not started again.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 13
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k -n "$ns" create configmap dbg --from-literal=who=debugger >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sleep, "31337"]}
YAML
wait_until 60 pod_is app Running || tap_bail "app not Running: $(k -n "$ns" get pod app -o yaml | tail -20; vk_log_tail vk 10)"
uid=$(k -n "$ns" get pod app -o jsonpath='{.metadata.uid}')
app_cid=$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --name '^c$' --state Running | head -n 1)

k -n "$ns" debug app --image="$BUSYBOX_IMAGE" --container=dbg --target=c -- \
	sh -c 'ps -o pid,args; echo "exiting"; exit 3' >/dev/null 2>&1 || tap_bail "kubectl debug failed"
estate() { # NAME FIELD (a jsonpath under the ephemeral container's status)
	k -n "$ns" get pod app -o jsonpath="{.status.ephemeralContainerStatuses[?(@.name==\"$1\")]$2}" 2>/dev/null
}
done3() { [[ $(estate dbg .state.terminated.exitCode) == 3 ]]; }
if wait_until 60 done3; then tap_pass "ephemeralContainerStatuses reports the debug container, terminated with its exit code"
else tap_fail "ephemeralContainerStatuses reports the debug container, terminated with its exit code" \
	"$(k -n "$ns" get pod app -o jsonpath='{.status}')" "$(vk_log_tail vk 15)"; fi
dbg_cid=$(estate dbg .containerID)
dbg_cid=${dbg_cid#containerd://}
log=$(cri logs "$dbg_cid" 2>&1)
if grep -qE "^ *[0-9]+ sleep 31337$" <<<"$log"; then tap_pass "--target: it sees the target container's process (shared PID namespace)"
else tap_fail "--target: it sees the target container's process (shared PID namespace)" "$log"; fi
if grep -q "^exiting" <<<"$log"; then tap_pass "its command ran in a real container"
else tap_fail "its command ran in a real container" "$log"; fi
tap_is "$(cri inspect -o go-template --template '{{.info.sandboxID}}' "$dbg_cid" 2>&1)" \
	"$(cri inspect -o go-template --template '{{.info.sandboxID}}' "$app_cid" 2>&1)" "it runs in the pod's sandbox"

# Not restarted (ephemeral containers never are): still the same one later.
sleep 3
tap_is "$(cri ps -a -q --label "io.kubernetes.pod.uid=$uid" --name '^dbg$' | wc -l) $(estate dbg .restartCount)" "1 0" \
	"it is not restarted"

# A second one, without a target, with env from a ConfigMap.
k -n "$ns" patch pod app --subresource ephemeralcontainers --type strategic -p "$(cat <<JSON
{"spec":{"ephemeralContainers":[{"name":"solo","image":"$BUSYBOX_IMAGE","imagePullPolicy":"IfNotPresent",
 "command":["sh","-c","echo who=\$WHO; ps -o args | grep -cx 'sleep 31337' || true"],
 "env":[{"name":"WHO","valueFrom":{"configMapKeyRef":{"name":"dbg","key":"who"}}}],
 "terminationMessagePolicy":"File"}]}}
JSON
)" >/dev/null || tap_bail "patching ephemeralcontainers failed"
solo_done() { [[ $(estate solo .state.terminated.reason) == Completed ]]; }
if wait_until 60 solo_done; then tap_pass "a second ephemeral container runs to completion"
else tap_fail "a second ephemeral container runs to completion" "$(k -n "$ns" get pod app -o jsonpath='{.status}')" "$(vk_log_tail vk 15)"; fi
solo_cid=$(estate solo .containerID)
tap_is "$(cri logs "${solo_cid#containerd://}" 2>&1)" "who=debugger
0" "without a target it has its own PID namespace; its env is resolved from the ConfigMap"
tap_is "$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --name '^c$' --state Running | head -n 1)" "$app_cid" \
	"the pod's own container kept running, untouched"

# One whose image cannot be pulled: it waits with ErrImagePull (then
# ImagePullBackOff); the pod goes on running.
k -n "$ns" debug app --image=127.0.0.1:9/nope:1.0 --container=nopull -- true >/dev/null 2>&1 ||
	tap_bail "kubectl debug (nopull) failed"
pull_failed() { [[ $(estate nopull .state.waiting.reason) == @(ErrImagePull|ImagePullBackOff) ]]; }
if wait_until 60 pull_failed; then tap_pass "an ephemeral container whose image cannot be pulled waits with ErrImagePull"
else tap_fail "an ephemeral container whose image cannot be pulled waits with ErrImagePull" \
	"$(k -n "$ns" get pod app -o jsonpath='{.status.ephemeralContainerStatuses}')" "$(vk_log_tail vk 15)"; fi
tap_is "$(pod_phase app) $(cri ps -q --label "io.kubernetes.pod.uid=$uid" --name '^c$' --state Running | head -n 1)" \
	"Running $app_cid" "and the pod goes on running"

# One added while vk is down.
vk_stop "$vk_pid" || tap_bail "vk did not stop cleanly: $(tail -5 "$tmp/vk.log")"
k -n "$ns" debug app --image="$BUSYBOX_IMAGE" --container=late -- sh -c 'echo late' >/dev/null 2>&1 ||
	tap_bail "kubectl debug (late) failed"
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
late_done() { [[ $(estate late .state.terminated.reason) == Completed ]]; }
if wait_until 60 late_done; then tap_pass "one added while vk was stopped runs when vk is back"
else tap_fail "one added while vk was stopped runs when vk is back" "$(k -n "$ns" get pod app -o jsonpath='{.status}')" "$(vk_log_tail vk 15)"; fi
late_cid=$(estate late .containerID)
tap_is "$(cri logs "${late_cid#containerd://}" 2>&1)" "late" "its output is in its log"
count() { cri ps -a -q --label "io.kubernetes.pod.uid=$uid" --name "^$1\$" | wc -l; }
tap_is "$(count dbg) $(count solo) $(count c)" "1 1 1" "after the restart nothing ran again"
tap_done
