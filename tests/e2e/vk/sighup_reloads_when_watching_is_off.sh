#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# --no-reload: an edit of the provider is not picked up by itself, SIGHUP
# reloads it (and the pods get the new version's status: the poll interval
# is 10 min, so only the reload's resync can bring it).
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 5
vk_setup node
reload_setup
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml" --no-reload --status-interval 600000
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
pod_yaml one "$node" | k apply -f - >/dev/null
wait_until 20 pod_is one Running || tap_bail "pod not Running: $(vk_log_tail vk)"
message() { k -n "$ns" get pod one -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'; }

set_message "after sighup"
sleep 1.5
tap_is "$(reloads_logged vk)" 0 "with --no-reload an edit does not reload"
tap_is "$(message)" "running in recorder" "the old version still serves"

t0=$(date +%s%N)
kill -HUP "$vk_pid"
has() { [[ $(message) == "after sighup" ]]; }
VK_POLL=0.05 wait_until 30 has || true
took=$((($(date +%s%N) - t0) / 1000000))
if has; then tap_pass "SIGHUP reloads: the new status shows ($took ms)"; else tap_fail "SIGHUP reloads: the new status shows" "$took ms, message '$(message)'" "$(vk_log_tail vk)"; fi
tap_like "$(grep 'reloading provider' "$tmp/vk.log" | tail -1)" '\(SIGHUP\)$' "the log says SIGHUP started it"
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
