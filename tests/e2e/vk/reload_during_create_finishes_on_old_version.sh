#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Hot reload while a create_pod is in flight (sleeping on a timer): that
# create completes on the version that started it, is not made again, and
# the pod ends up Running; calls that start after the swap go to the new
# version.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 8
vk_setup node
reload_setup
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

pod_yaml slow "$node" | sed 's/^metadata: {name: slow,/metadata: {annotations: {vk-test\/create: "sleep:30000"}, name: slow,/' | k apply -f - >/dev/null
started() { (($(calls create_pod "$ns/slow") >= 1)); }
wait_until 10 started || tap_bail "create_pod never started: $(vk_log_tail vk)"
t_start=$(date +%s%N)

# Version two records its calls under other names, so the record says which
# version made each call.
sed -e 's/^local MESSAGE = .*/local MESSAGE = "version two"/' \
    -e 's/record("create_pod"/record("create_pod_v2"/' -e 's/record("env"/record("env_v2"/' "$prov" >"$tmp/next.lua"
mv "$tmp/next.lua" "$prov"
reloaded() { (($(reloads_logged vk) >= 1)); }
if wait_until 20 reloaded; then tap_pass "the reload is swapped in while the create sleeps"; else tap_fail "the reload is swapped in while the create sleeps" "$(vk_log_tail vk)"; fi
t_swap=$((($(date +%s%N) - t_start) / 1000000))
# The create sleeps 30 s: a swap that waited for it could not come sooner.
if ((t_swap < 25000)); then tap_pass "the swap did not wait for the 30 s create ($t_swap ms after it started)"; else tap_fail "the swap did not wait for the 30 s create" "$t_swap ms"; fi

if wait_until 60 pod_is slow Running; then tap_pass "the pod whose create was in flight ends up Running"; else tap_fail "the pod whose create was in flight ends up Running" "$(vk_log_tail vk)"; fi
tap_is "$(grep -c "\"call\":\"env\".*\"key\":\"$ns/slow\"" "$tmp/calls.jsonl")" 1 "the in-flight create completed on the old version"
tap_is "$(calls create_pod_v2 "$ns/slow")" 0 "the create was not made again on the new version"
has_new_message() { [[ $(k -n "$ns" get pod slow -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}') == "version two" ]]; }
# The old create notified the old message; the new version's get_pod_status
# (the 5 s poll) then reports the new one.
if wait_until 10 has_new_message; then tap_pass "the new version then serves the pod's status"; else tap_fail "the new version then serves the pod's status" "$(k -n "$ns" get pod slow -o jsonpath='{.status.conditions}')"; fi

pod_yaml fresh "$node" | k apply -f - >/dev/null
wait_until 20 pod_is fresh Running || true
tap_is "$(calls create_pod_v2 "$ns/fresh")" 1 "a create that starts after the swap runs on the new version"
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
