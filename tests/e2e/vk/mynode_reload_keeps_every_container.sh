#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Hot reload of providers/mynode.lua with real containers (containerd): an
# edit reloads it, and every sandbox and container keeps its ID (none is
# created, stopped or restarted); the pods stay Running with restartCount 0,
# and the new version goes on supervising them (a container killed after
# the reload is restarted).  An edit of one of its modules
# (providers/mynode/*.lua) reloads it too.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
(($(id -u) == 0)) || { echo "1..0 # SKIP containerd needs root"; exit 77; }
if ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then echo "1..0 # SKIP containerd/runc not installed"; exit 77; fi
tap_plan 12
vk_setup node
containerd_up "$tmp/c" >&2 || tap_bail "containerd did not start"
mkdir -p "$tmp/prov" "$tmp/logs" "$tmp/pods"
cp "$VK_ROOT/providers/mynode.lua" "$tmp/prov/mynode.lua"
cp -r "$VK_ROOT/providers/mynode" "$tmp/prov/mynode"
prov=$tmp/prov/mynode.lua
cat >"$tmp/config.yaml" <<YAML
runtime_endpoint: $CRI_ENDPOINT
log_root: $tmp/logs
pod_root: $tmp/pods
sync_ms: 500
YAML
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
for i in 1 2 3; do pod_yaml "c$i" "$node" "$BUSYBOX_IMAGE"; echo ---; done | k apply -f - >/dev/null
running() { [[ $(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running) == 3 ]]; }
wait_until 90 running || tap_bail "pods not Running: $(vk_log_tail vk)"
sleep 2

# Everything the runtime and the API know about the containers.
runtime_ids() { { cri pods -q; cri ps -a -q; } | sort; }
api_view() { k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.uid}{" "}{.status.containerStatuses[0].containerID}{" "}{.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort; }
ids0=$(runtime_ids) api0=$(api_view)
tap_is "$(wc -l <<<"$ids0")" 6 "3 sandboxes and 3 containers run"

# Version two logs a line of its own when it loads.
sed -i 's/^return P$/log.info("mynode version two loaded")\nreturn P/' "$prov"
reloaded() { (($(reloads_logged vk) >= 1)); }
if wait_until 5 reloaded; then tap_pass "an edit of mynode.lua reloads it"; else tap_fail "an edit of mynode.lua reloads it" "$(vk_log_tail vk)"; fi
tap_ok "the new version is the one that loaded" grep -q "mynode version two loaded" "$tmp/vk.log"
sleep 3 # several supervisor rounds of the new version
tap_is "$(runtime_ids)" "$ids0" "every sandbox and container keeps its ID (none made or removed)"
tap_is "$(cri ps -q | wc -l)" 3 "the 3 containers are still running"
tap_is "$(api_view)" "$api0" "the pods keep UID, containerID and restartCount in the API"
tap_is "$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running)" 3 "the pods stay Running"

# Version three changes a module only (saved through a rename, as editors do).
mod=$tmp/prov/mynode/status.lua
sed 's/^return M$/vk.log.info("mynode status module version three loaded")\nreturn M/' "$mod" >"$mod.tmp"
mv "$mod.tmp" "$mod"
reloaded_twice() { (($(reloads_logged vk) >= 2)); }
if wait_until 5 reloaded_twice; then tap_pass "an edit of providers/mynode/status.lua reloads mynode"; else tap_fail "an edit of providers/mynode/status.lua reloads mynode" "$(vk_log_tail vk)"; fi
tap_ok "the new module is the one that loaded" grep -q "mynode status module version three loaded" "$tmp/vk.log"
sleep 2 # supervisor rounds of version three
tap_is "$(runtime_ids)" "$ids0" "after the module's reload too, no sandbox or container is made or removed"

# The new version supervises: a container killed now is restarted.
victim=$(cri ps --name main -q | sed -n 1p) # (sed reads it all: no SIGPIPE under pipefail)
cri stop -t 0 "$victim" >/dev/null
restarted() { [[ $(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.containerStatuses[0].restartCount}{"\n"}{end}' | grep -c '^1$') == 1 ]]; }
if wait_until 30 restarted; then tap_pass "the new version restarts a container that died after the reload"; else tap_fail "the new version restarts a container that died after the reload" "$(api_view)" "$(vk_log_tail vk)"; fi
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
