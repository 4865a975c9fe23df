#!/usr/bin/env bash
# A Lua module the provider required from its own folder is watched too: an
# edit of the module (saved through a rename) reloads the provider, and the
# new module's code serves the pods.  A module of vk itself is not watched.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 4
vk_setup node
reload_setup
printf 'return { message = "from module v1" }\n' >"$tmp/prov/recorder_msg.lua"
sed -i 's/^local MESSAGE = .*/local MESSAGE = require("recorder_msg").message/' "$prov"
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml" --status-interval 600000 --log-level debug
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
pod_yaml one "$node" | k apply -f - >/dev/null
wait_until 20 pod_is one Running || tap_bail "pod not Running: $(vk_log_tail vk)"
message() { k -n "$ns" get pod one -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'; }
tap_is "$(message)" "from module v1" "the provider runs with its module"

printf 'return { message = "from module v2" }\n' >"$tmp/prov/.recorder_msg.lua.tmp"
mv "$tmp/prov/.recorder_msg.lua.tmp" "$tmp/prov/recorder_msg.lua"
has() { [[ $(message) == "from module v2" ]]; }
if VK_POLL=0.05 wait_until 3 has; then tap_pass "an edit of the module reloads the provider with the new module"; else tap_fail "an edit of the module reloads the provider with the new module" "'$(message)'" "$(vk_log_tail vk)"; fi
tap_is "$(reloads_logged vk)" 1 "one save of the module is one reload"
# The debug log lists what is watched: the provider's folder, nothing of vk's.
tap_like "$(grep 'watching ' "$tmp/vk.log" | tail -1)" "watching $tmp/prov for 2 file\\(s\\)" "the provider and its module are watched, not vk's modules"
tap_done
