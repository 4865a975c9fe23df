#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid and vk2_pid by vk_start (common.bash)
# providers/redis.lua through the real control plane against a real
# redis-server (started here, stopped by PID): each pod becomes a redis hash
# holding its name, namespace, uid, images and phase and is reported
# Running; a vk restart finds the pods again through get_pods without
# creating them anew; deleting a pod removes its record.  Records are read
# back with redis-cli.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 13
command -v redis-server >/dev/null || { tap_skip "redis provider" "redis-server is not installed"; tap_done; }
vk_setup node
"$VK_ROOT/tests/cluster/store-up.sh" "$tmp/stores" redis >"$tmp/store-up.log" 2>&1 || tap_bail "redis did not start: $(tail -5 "$tmp/store-up.log")"
on_exit "'$VK_ROOT/tests/cluster/store-down.sh' '$tmp/stores'"
# shellcheck source=/dev/null
source "$tmp/stores/store.env"
rc() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
printf 'url: %s\nprefix: "pods/"\n' "$REDIS_URL" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/providers/redis.lua" --provider-config "$tmp/config.yaml"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers:
  - {name: app, image: docker.io/library/busybox:1.35}
  - {name: side, image: registry.k8s.io/pause:3.9}
YAML
phase() { k -n "$ns" get pod db -o jsonpath='{.status.phase}'; }
is_running() { [[ $(phase) == Running ]]; }
if wait_until 30 is_running; then tap_pass "the pod is reported Running"; else tap_fail "the pod is reported Running" "$(phase)" "$(tail -n 20 "$tmp/vk.log")"; fi
uid=$(k -n "$ns" get pod db -o jsonpath='{.metadata.uid}')
key="pods/$ns/db"
tap_is "$(rc TYPE "$key")" hash "the pod is a redis hash"
tap_is "$(rc HGET "$key" name):$(rc HGET "$key" namespace)" "db:$ns" "holding its name and namespace"
tap_is "$(rc HGET "$key" uid)" "$uid" "its uid"
tap_is "$(rc HGET "$key" images)" "docker.io/library/busybox:1.35,registry.k8s.io/pause:3.9" "its images"
tap_is "$(rc HGET "$key" phase)" Running "and its phase"
started=$(rc HGET "$key" started)

# A restart: get_pods lists the record, nothing is created again.
vk_stop "$vk_pid"
vk_start vk2 "$node" "$VK_ROOT/providers/redis.lua" --provider-config "$tmp/config.yaml"
# The core's start-up reconcile asks get_pods, which lists the record.
if wait_until 30 grep -q "the provider reports 1 pods" "$tmp/vk2.log"; then
	tap_pass "after a vk restart get_pods lists the record"
else
	tap_fail "after a vk restart get_pods lists the record" "$(tail -n 20 "$tmp/vk2.log")"
fi
wait_until 20 node_is "$node" True || true
tap_ok "nothing was created again" bash -c "! grep -q 'created in the provider' '$tmp/vk2.log'"
tap_is "$(rc HGET "$key" started)" "$started" "the record is the same one"
tap_ok "and the pod is still Running" is_running

k -n "$ns" delete pod db --wait=false >/dev/null
gone() { ! k -n "$ns" get pod db >/dev/null 2>&1; }
if wait_until 30 gone; then tap_pass "deleting the pod completes"; else tap_fail "deleting the pod completes" "$(k -n "$ns" get pod db -o yaml | tail -20)"; fi
tap_is "$(rc EXISTS "$key")" 0 "and removes its record"
tap_ok "vk is still running" pid_alive "$vk2_pid"
tap_done
