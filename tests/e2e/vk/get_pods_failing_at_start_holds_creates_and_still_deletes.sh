#!/usr/bin/env bash
# shellcheck disable=SC2154 # vk_pid, vk2_pid are assigned by name by vk_start (common.bash)
# A vk restarted while its provider's get_pods fails (a runtime that does
# not answer yet) cannot tell a pod the provider lacks from one it runs
# unknown to the core.  While vk was away one pod was deleted gracefully
# (it waits Terminating for its node) and one by force (gone from the API);
# one stays.  The restarted vk, whose provider fails its first two
# get_pods, must ask again until it answers, send the graceful deletion to
# delete_pod although the core never created that pod, delete the pod the
# API lost once the list is in, and create nothing: the pod that stays was
# running all along.  Before this, it finished the deletion in the API
# without delete_pod, never asked again, and created the kept pod a second
# time (a second cloud instance).
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 12
vk_setup node
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
args=("$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --status-interval 1000)
uid_of() { k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}'; }
calls_since() { tail -n +"$(($1 + 1))" "$tmp/calls.jsonl" | jq -r --arg c "$2" 'select(.call == $c) | .data.uid' | sort; }
provider_keys() { jq -r '.[] | .pod.metadata.name + "=" + .pod.metadata.uid' "$tmp/state.json" | sort; }

# 1. A vk runs three pods and is stopped.
vk_start vk "$node" "${args[@]}" --provider-config "$tmp/config.yaml"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"
{ pod_yaml g "$node"; echo ---; pod_yaml f "$node"; echo ---; pod_yaml s "$node"; } | k apply -f - >/dev/null
for p in g f s; do wait_until 60 pod_is "$p" Running || tap_bail "$p not Running: $(vk_log_tail vk)"; done
g_uid=$(uid_of g) f_uid=$(uid_of f) s_uid=$(uid_of s)
vk_stop "$vk_pid" || tap_bail "vk did not stop cleanly: $(vk_log_tail vk)"

# 2. While it is away: g deleted gracefully, f by force.
k -n "$ns" delete pod g --wait=false >/dev/null
k -n "$ns" delete pod f --grace-period=0 --force --wait=false >/dev/null 2>&1
wait_until 30 pod_gone f || tap_bail "f was not force-deleted"
tap_like "$(k -n "$ns" get pod g -o jsonpath='{.metadata.deletionTimestamp}')" "^20" \
	"with no vk, g waits Terminating (a deletionTimestamp, still in the API)"

# 3. vk again (its own, empty store), the provider's first two get_pods failing.
printf 'get_pods_fail: 2\n' | cat "$tmp/config.yaml" - >"$tmp/config2.yaml"
at_start=$(wc -l <"$tmp/calls.jsonl")
vk_start vk2 "$node" "${args[@]}" --provider-config "$tmp/config2.yaml"
if wait_until 30 grep -q 'provider get_pods failed (pods are created once it answers); asking again in 1 s' "$tmp/vk2.log"; then
	tap_pass "a failed get_pods is logged as such, with when it is asked again"
else
	tap_fail "a failed get_pods is logged as such, with when it is asked again" "$(vk_log_tail vk2)"
fi
# (g may be deleted before the list comes: it lists 2 or 3 pods.)
if wait_until 60 grep -qE 'the provider reports [23] pods' "$tmp/vk2.log"; then
	tap_pass "get_pods is asked again until it answers"
else
	tap_fail "get_pods is asked again until it answers" "$(vk_log_tail vk2)"
fi
tap_is "$(calls_since "$at_start" get_pods_failed | wc -l) $(tail -n +"$((at_start + 1))" "$tmp/calls.jsonl" | jq -r 'select(.call == "get_pods") | .call' | uniq)" \
	"2 get_pods" "two failed calls, then an answer"
if wait_until 60 pod_gone g; then tap_pass "g's deletion is finished: gone from the API"; else tap_fail "g's deletion is finished: gone from the API" "g: $(pod_phase g); $(vk_log_tail vk2)"; fi
settled() { [[ $(provider_keys) == "s=$s_uid" ]]; }
wait_until 60 settled || true
tap_is "$(provider_keys)" "s=$s_uid" "the provider runs s only: g and f went through delete_pod"
tap_is "$(calls_since "$at_start" delete_pod | xargs)" "$(printf '%s\n' "$g_uid" "$f_uid" | sort | xargs)" \
	"delete_pod was called once for g (deleted while vk was away, never created by this vk) and once for f (lost by the API)"
tap_is "$(calls_since "$at_start" create_pod)" "" "no create_pod: s was running all along, and is not created a second time"
tap_ok "s is still Running" pod_is s Running
# A new pod goes ahead once the list is in.
pod_yaml fresh "$node" | k apply -f - >/dev/null
if wait_until 60 pod_is fresh Running; then tap_pass "a new pod is created and Running"; else tap_fail "a new pod is created and Running" "$(vk_log_tail vk2)"; fi
tap_ok "vk is still running" pid_alive "$vk2_pid"
vk_stop "$vk2_pid" || true
tap_ok "vk2 ends without a sanitizer report" vk_sanitizers_quiet "$vk2_pid" "$tmp/vk2.log"
tap_done
