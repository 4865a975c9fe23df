#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# `kubectl set image` on a bare pod, as kubelet handles it: mynode kills the
# container whose image changed (a "Killing ... definition changed" Event),
# starts it again from the new image (a new container in containerd, run
# from that image, restartCount 1), leaves the other container alone, and
# the pod is Running with the new image in its status.  This holds under
# restartPolicy Never too: a changed spec restarts whatever the policy.
# An image that cannot be pulled leaves the container waiting in
# ErrImagePull/ImagePullBackOff; setting a good one again runs it.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 13
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready"

cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: $ns}
spec:
  nodeName: $node
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
  - {name: side, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
YAML
wait_until 60 pod_is web Running || tap_bail "pod web not Running: $(k -n "$ns" get pod web -o jsonpath='{.status}')"
uid=$(k -n "$ns" get pod web -o jsonpath='{.metadata.uid}')
cs() { k -n "$ns" get pod web -o jsonpath="{.status.containerStatuses[?(@.name==\"$1\")]$2}"; }
running_id() { cri ps -q --label "io.kubernetes.pod.uid=$uid" --label "io.kubernetes.container.name=$1" --state Running; }
main_before=$(running_id main)
side_before=$(running_id side)
[[ -n $main_before && -n $side_before ]] || tap_bail "no running containers for web"

k -n "$ns" set image pod/web main="$PAUSE_IMAGE" >/dev/null
restarted() { [[ $(cs main .image) == "$PAUSE_IMAGE" && $(cs main .restartCount) == 1 && -n $(cs main .state.running) ]]; }
if wait_until 60 restarted; then tap_pass "the status shows main running the new image, restartCount 1"
else tap_fail "the status shows main running the new image, restartCount 1" "$(k -n "$ns" get pod web -o jsonpath='{.status.containerStatuses}')"; fi
main_after=$(running_id main)
tap_like "$main_after" '^[0-9a-f]+$' "main runs in a container in containerd"
if [[ $main_after != "$main_before" ]]; then tap_pass "... a new one"; else tap_fail "... a new one" "same id $main_after"; fi
img=$(cri inspect -o go-template --template '{{.status.image.image}}' "$main_after" 2>&1)
pause_ref=$(cri inspecti -o go-template --template '{{.status.id}}' "$PAUSE_IMAGE" 2>&1)
tap_like "$img" "^($PAUSE_IMAGE|$pause_ref)\$" "... run from the new image ($PAUSE_IMAGE)"
tap_is "$(cs main .imageID)" "$pause_ref" "the status' imageID is the new image's"
tap_like "$(cs main .lastState.terminated.exitCode)" '^(137|143|0)$' "lastState has how the old container ended"
tap_is "$(running_id side):$(cs side .restartCount)" "$side_before:0" "the other container keeps running, not restarted"
tap_is "$(pod_phase web)" Running "the pod stays Running (restartPolicy Never)"
tap_like "$(k -n "$ns" get events --field-selector involvedObject.name=web,reason=Killing -o jsonpath='{.items[*].message}')" \
	'Container main definition changed, will be restarted' "a Killing Event says why"

# An image that does not exist: the old container is stopped, the new one
# cannot start.
k -n "$ns" set image pod/web main=127.0.0.1:9/none:1 >/dev/null
pull_failing() { [[ $(cs main .state.waiting.reason) =~ ^(ErrImagePull|ImagePullBackOff)$ ]]; }
if wait_until 60 pull_failing; then tap_pass "an image that cannot be pulled: main waits in $(cs main .state.waiting.reason)"
else tap_fail "an image that cannot be pulled: main waits in ErrImagePull or ImagePullBackOff" "$(cs main)"; fi
tap_is "$(running_id main)" "" "and no container of main runs"
k -n "$ns" set image pod/web main="$BUSYBOX_IMAGE" >/dev/null
back() { [[ $(cs main .image) == "$BUSYBOX_IMAGE" && -n $(cs main .state.running) && -n $(running_id main) ]]; }
if wait_until 60 back; then tap_pass "a good image again: main runs again (restartCount $(cs main .restartCount))"
else tap_fail "a good image again: main runs again" "$(cs main)"; fi
# Under restartPolicy Never the API refuses a container that leaves the
# terminated state: the restarting one must never have been shown so.
tap_is "$(grep -c 'may not be transitioned to non-terminated state' "$tmp/vk.log" || true)" 0 \
	"the API accepted every status (none showed the restarting container terminated)"
tap_done
