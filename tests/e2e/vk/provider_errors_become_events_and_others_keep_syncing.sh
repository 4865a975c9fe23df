#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# An error() in create_pod/delete_pod becomes a Warning Event naming
# file:line and is retried with backoff; a create_pod stuck in an endless
# loop is stopped by the budget; vk keeps running and every other pod keeps
# syncing.  A changed pod reaches update_pod; success events are recorded.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 13
vk_setup node
printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
annotated() { # NAME KEY VALUE
	pod_yaml "$1" "$node" | sed "s/^metadata: {name: $1,/metadata: {annotations: {vk-test\\/$2: \"$3\"}, name: $1,/"
}
events() { k -n "$ns" get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}{"|"}{.message}{"\n"}{end}'; }
has_event() { events "$1" | grep -q "^$2|"; }
creates() { grep -c "\"call\":\"create_pod\".*/$1\"" "$tmp/calls.jsonl" 2>/dev/null || true; }

annotated broken create error | k apply -f - >/dev/null
annotated looper create loop | k apply -f - >/dev/null
annotated flaky create fail-once | k apply -f - >/dev/null
pod_yaml fine "$node" | k apply -f - >/dev/null

if wait_until 20 pod_is fine Running; then tap_pass "a healthy pod runs while others fail"; else tap_fail "a healthy pod runs while others fail" "$(vk_log_tail vk)"; fi
if wait_until 20 has_event broken ProviderCreateFailed; then tap_pass "an error in create_pod is a ProviderCreateFailed event"; else tap_fail "an error in create_pod is a ProviderCreateFailed event" "$(events broken)"; fi
tap_like "$(events broken | grep ProviderCreateFailed | head -1)" 'recorder\.lua:[0-9]+: create refused' "the event names file:line and the message"
ok_retried() { [[ $(creates broken) -ge 3 ]]; }
if wait_until 20 ok_retried; then tap_pass "the failing create is retried ($(creates broken) tries)"; else tap_fail "the failing create is retried" "tries: $(creates broken)"; fi
if wait_until 30 has_event looper ProviderCreateFailed; then tap_pass "an endless loop in create_pod is stopped and reported"; else tap_fail "an endless loop in create_pod is stopped and reported" "$(vk_log_tail vk)"; fi
tap_like "$(events looper | grep ProviderCreateFailed | head -1)" 'budget' "the event says the budget was exceeded"
if wait_until 20 pod_is flaky Running; then tap_pass "a create that fails once succeeds on retry"; else tap_fail "a create that fails once succeeds on retry" "$(events flaky)"; fi
tap_ok "ProviderCreateSuccess is recorded" has_event fine ProviderCreateSuccess

k -n "$ns" label pod fine tier=gold >/dev/null
updated() { grep -q '"call":"update_pod".*/fine"' "$tmp/calls.jsonl"; }
if wait_until 10 updated; then tap_pass "a label change reaches update_pod"; else tap_fail "a label change reaches update_pod"; fi

pod_yaml fine2 "$node" | k apply -f - >/dev/null
if wait_until 20 pod_is fine2 Running; then tap_pass "new pods still sync after the loop was killed"; else tap_fail "new pods still sync after the loop was killed" "$(vk_log_tail vk)"; fi
annotated stubborn delete error | k apply -f - >/dev/null
wait_until 20 pod_is stubborn Running || true
k -n "$ns" delete pod stubborn --wait=false >/dev/null
if wait_until 20 has_event stubborn ProviderDeleteFailed; then tap_pass "an error in delete_pod is a ProviderDeleteFailed event"; else tap_fail "an error in delete_pod is a ProviderDeleteFailed event" "$(events stubborn)"; fi
tap_ok "the pod is not removed from the API while its delete fails" k -n "$ns" get pod stubborn
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
