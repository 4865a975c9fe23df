#!/usr/bin/env bash
# shellcheck disable=SC2154 # vk_pid, vk2_pid, vk3_pid are assigned by name by vk_start (common.bash)
# A pod the provider never had (its create_pod fails) is deleted: vk has no
# delete_pod to call and only finishes the deletion in the API (terminal
# status, DELETE).  vk is killed right after that DELETE, while its store's
# write-behind holds everything back (VK_STORE_FLUSH_MS=3600000: nothing is
# committed unless vk asks for it).  The vk started again must not create
# the pod: before the fix the store still held the copy from before the
# deletion (no deletionTimestamp), and the restarted vk called create_pod
# for a pod the API had already removed.  Now the DELETE waits, as every
# delete_pod does, until the store holds the deletionTimestamp.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
vk_setup node
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
args=("$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
	--store embedded --state-dir "$tmp/state" --status-interval 1000)
creates_since() { tail -n +"$(($1 + 1))" "$tmp/calls.jsonl" | jq -r 'select(.call == "create_pod") | .data.uid' | sort; }

# 1. A vk sees pod x, whose create_pod always fails, and stops: its store
# holds x as the API had it then.
vk_start vk "$node" "${args[@]}"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"
pod_yaml x "$node" | sed 's#^metadata: {\(.*\)}#metadata: {\1, annotations: {vk-test/create: "error"}}#' | k apply -f - >/dev/null
x_uid=$(k -n "$ns" get pod x -o jsonpath='{.metadata.uid}')
wait_until 60 grep -q "\"uid\":\"$x_uid\"" "$tmp/calls.jsonl" || tap_bail "create_pod of x never came: $(vk_log_tail vk)"
vk_stop "$vk_pid" || tap_bail "vk did not stop cleanly: $(vk_log_tail vk)"

# 2. Again on that store, writes held back for an hour; x is deleted, and
# vk is killed as soon as it has finished the deletion in the API.
VK_STORE_FLUSH_MS=3600000 vk_start vk2 "$node" "${args[@]}"
wait_until 30 grep -q 'pods from the store' "$tmp/vk2.log" || tap_bail "vk2 did not start from the store: $(vk_log_tail vk2)"
k -n "$ns" delete pod x --wait=false >/dev/null
if wait_until 90 grep -q "$ns/x: deleted from the API" "$tmp/vk2.log"; then
	tap_pass "vk2 finishes the deletion of x, which never reached the provider"
else
	tap_bail "vk2 never finished the deletion of x: $(vk_log_tail vk2)"
fi
kill -KILL "$vk2_pid"
wait "$vk2_pid" 2>/dev/null || true

# 3. Started again with the ordinary write-behind.
at_kill=$(wc -l <"$tmp/calls.jsonl")
vk_start vk3 "$node" "${args[@]}"
if wait_until 30 grep -q 'pods from the store' "$tmp/vk3.log"; then
	tap_pass "the vk started after the kill starts from the store"
else
	tap_fail "the vk started after the kill starts from the store" "$(vk_log_tail vk3)"
fi
# vk3 either finishes the deletion again (the store had the deletionTimestamp)
# or creates x (it did not): wait for one of the two.
settled() {
	grep -qE "$ns/x: (deleted from the API|the API server says not found)" "$tmp/vk3.log" ||
		[[ -n $(creates_since "$at_kill") ]]
}
wait_until 60 settled || true
tap_is "$(creates_since "$at_kill")" "" "no create_pod after the restart: the store knew x was being deleted"
tap_ok "vk3 itself took up x's deletion (its DELETE found the pod gone)" \
	grep -qE "$ns/x: (deleted from the API|the API server says not found)" "$tmp/vk3.log"
tap_ok "x is gone from the API" pod_gone x
tap_ok "vk is still running" pid_alive "$vk3_pid"
vk_stop "$vk3_pid" || true
tap_ok "vk3 ends without a sanitizer report" vk_sanitizers_quiet "$vk3_pid" "$tmp/vk3.log"
tap_done
