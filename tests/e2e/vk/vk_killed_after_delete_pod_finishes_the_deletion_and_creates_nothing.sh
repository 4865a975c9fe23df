#!/usr/bin/env bash
# shellcheck disable=SC2154 # vk_pid, vk2_pid, vk3_pid are assigned by name by vk_start (common.bash)
# vk is killed right after the provider's delete_pod has deleted a pod and
# before anything else happens, while its store's write-behind holds the
# pod's last changes back (VK_STORE_FLUSH_MS=3600000: nothing is committed
# unless vk asks for it).  Two pods are deleted that way: `g` gracefully
# (the store must know its deletionTimestamp) and `f` by force (the store
# must no longer hold it).  The recorder's delete_pod ("hold:PATH") saves
# its pods without them and then waits, and the test kills vk there.  The
# vk started again must finish both deletions and create neither again:
# before the fix the stored copies (Running, no deletionTimestamp) looked
# lost, and the restarted vk created both again before the watch caught up.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 12
vk_setup node
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
args=("$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
	--store embedded --state-dir "$tmp/state" --status-interval 1000)
held_pod() { # NAME
	pod_yaml "$1" "$node" | sed "s#^metadata: {\(.*\)}#metadata: {\1, annotations: {vk-test/delete: \"hold:$tmp/hold\"}}#"
}
uid_of() { k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}'; }
calls() { jq -r --arg c "$1" 'select(.call == $c) | .data.uid' "$tmp/calls.jsonl" | sort; }
provider_keys() { jq -r '.[] | .pod.metadata.name + "=" + .pod.metadata.uid' "$tmp/state.json" | sort; }

# 1. A vk with the ordinary write-behind runs three pods; stopped with
# SIGTERM, it leaves them Running in its store.
vk_start vk "$node" "${args[@]}"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"
{ held_pod g; echo ---; held_pod f; echo ---; pod_yaml s "$node"; } | k apply -f - >/dev/null
for p in g f s; do wait_until 60 pod_is "$p" Running || tap_bail "$p not Running: $(vk_log_tail vk)"; done
g_uid=$(uid_of g) f_uid=$(uid_of f) s_uid=$(uid_of s)
vk_stop "$vk_pid" || tap_bail "vk did not stop cleanly: $(vk_log_tail vk)"

# 2. Again, on that store, with writes held back for an hour: the pods are
# adopted, none created.
at_start=$(wc -l <"$tmp/calls.jsonl")
VK_STORE_FLUSH_MS=3600000 vk_start vk2 "$node" "${args[@]}"
wait_until 30 grep -q 'pods from the store' "$tmp/vk2.log" || tap_bail "vk2 did not start from the store: $(vk_log_tail vk2)"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk2)"
creates_since() { tail -n +"$(($1 + 1))" "$tmp/calls.jsonl" | jq -r 'select(.call == "create_pod") | .data.uid' | sort; }
wait_until 30 grep -q '"call":"get_pods"' <(tail -n +"$((at_start + 1))" "$tmp/calls.jsonl") || tap_bail "vk2 never asked for the provider's pods"
tap_is "$(creates_since "$at_start")" "" "a vk restarted on its store adopts the three pods, creates none"

# 3. g deleted gracefully, f by force; each delete_pod holds once the pod is
# gone from the provider's file; vk is killed there.
touch "$tmp/hold"
k -n "$ns" delete pod g --wait=false >/dev/null
k -n "$ns" delete pod f --grace-period=0 --force --wait=false >/dev/null 2>&1
both_held() { [[ $(calls delete_held | tr '\n' ' ') == "$(printf '%s\n' "$g_uid" "$f_uid" | sort | tr '\n' ' ')" ]]; }
wait_until 60 both_held || tap_bail "delete_pod of g and f did not reach the hold: $(calls delete_held | xargs); $(vk_log_tail vk2)"
kill -KILL "$vk2_pid"
wait "$vk2_pid" 2>/dev/null || true
tap_is "$(provider_keys)" "s=$s_uid" "at the kill the provider has deleted g and f and runs s"
tap_diag "g in the API at the kill: deletionTimestamp $(k -n "$ns" get pod g -o jsonpath='{.metadata.deletionTimestamp}' 2>&1)"
rm -f "$tmp/hold"

# 4. Started again with the ordinary write-behind: both deletions are
# finished, nothing is created.
at_kill=$(wc -l <"$tmp/calls.jsonl")
vk_start vk3 "$node" "${args[@]}"
if wait_until 30 grep -q 'pods from the store' "$tmp/vk3.log"; then
	tap_pass "the vk started after the kill starts from the store"
else
	tap_fail "the vk started after the kill starts from the store" "$(vk_log_tail vk3)"
fi
if wait_until 60 pod_gone g; then tap_pass "g's deletion is finished: gone from the API"; else tap_fail "g's deletion is finished: gone from the API" "g: $(pod_phase g)"; fi
tap_ok "f is gone from the API" pod_gone f
tap_ok "s still runs" pod_is s Running
settled() { [[ $(provider_keys) == "s=$s_uid" ]] && pod_gone g && pod_gone f; }
wait_until 30 settled || true
tap_is "$(creates_since "$at_kill")" "" "no create_pod after the restart: neither g nor f is created again, s is adopted"
tap_is "$(provider_keys)" "s=$s_uid" "the provider runs s only, with its uid"
tap_is "$(calls create_pod | uniq -d)" "" "no pod uid was ever created twice"
tap_ok "vk3 itself finished g's deletion (the terminal status, then the DELETE)" grep -q "$ns/g: deleted from the API" "$tmp/vk3.log"
tap_ok "vk is still running" pid_alive "$vk3_pid"
vk_stop "$vk3_pid" || true
tap_ok "vk3 ends without a sanitizer report" vk_sanitizers_quiet "$vk3_pid" "$tmp/vk3.log"
tap_done
