#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Hot reload that fails: a syntax error, an init that raises an error, a
# required callback missing.  Each time the old version keeps running (a new
# pod still goes Running with the old version's status), vk logs the error
# with file:line and records a Warning Event ProviderReloadFailed on the
# Node.  A fixed file then reloads.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 14
vk_setup node
reload_setup
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
cp "$prov" "$tmp/good.lua"
pod_yaml first "$node" | k apply -f - >/dev/null
wait_until 20 pod_is first Running || tap_bail "first pod not Running: $(vk_log_tail vk)"
n=0

# After a broken save: checks the log, the Event, and that the old version
# still serves.
check_failure() { # WHAT LOG_ERE
	local what=$1 ere=$2
	n=$((n + 1))
	failed() { (($(reload_failures_logged vk) >= n)); }
	if wait_until 5 failed; then
		tap_like "$(grep 'provider reload failed' "$tmp/vk.log" | tail -1)" "$ere" "$what: vk logs the error with file:line"
	else
		tap_fail "$what: vk logs the error with file:line" "$(vk_log_tail vk)"
	fi
	# The messages name this test's folder, so older runs do not count.
	has_event() { node_events "$node" ProviderReloadFailed | grep -F "$tmp/" | grep -qE "^ProviderReloadFailed\|.*$ere"; }
	if wait_until 10 has_event; then
		tap_pass "$what: a ProviderReloadFailed Warning Event names it"
	else
		tap_fail "$what: a ProviderReloadFailed Warning Event names it" "$(node_events "$node" ProviderReloadFailed)"
	fi
	pod_yaml "new$n" "$node" | k apply -f - >/dev/null
	if wait_until 20 pod_is "new$n" Running; then
		tap_is "$(k -n "$ns" get pod "new$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')" \
			"running in recorder" "$what: the old version keeps running (a new pod runs on it)"
	else
		tap_fail "$what: the old version keeps running (a new pod runs on it)" "$(vk_log_tail vk)"
	fi
}

# A syntax error (an unfinished function at the end).
{ sed '$d' "$tmp/good.lua"; printf 'set_message "nope"\nfunction P.broken(\nreturn P\n'; } >"$tmp/next.lua"
sed -i 's/^local MESSAGE = .*/local MESSAGE = "syntax"/' "$tmp/next.lua"
mv "$tmp/next.lua" "$prov"
check_failure "a syntax error" "recorder\.lua:[0-9]+: .*near"

# An init that raises an error.
sed -e 's/^local MESSAGE = .*/local MESSAGE = "init raises"/' \
    -e 's/^function P.init(config, node)$/&\n\terror("init refuses to start")/' "$tmp/good.lua" >"$tmp/next.lua"
mv "$tmp/next.lua" "$prov"
check_failure "an init that raises an error" "recorder\.lua:[0-9]+: init refuses to start"

# A required callback missing (delete_pod renamed away).
sed -e 's/^local MESSAGE = .*/local MESSAGE = "no delete"/' \
    -e 's/^function P.delete_pod(pod)$/local function gone(pod)/' "$tmp/good.lua" >"$tmp/next.lua"
mv "$tmp/next.lua" "$prov"
check_failure "a missing required callback" "recorder\.lua: the required callback delete_pod is missing"

tap_is "$(reloads_logged vk)" 0 "no failed version was swapped in"
tap_is "$(calls on_reload)" 0 "no failed version's on_reload ran"
tap_is "$(k -n "$ns" get pod first -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')" "running in recorder" "the first pod still has the old version's status"

# The fixed file reloads.
sed 's/^local MESSAGE = .*/local MESSAGE = "fixed"/' "$tmp/good.lua" >"$tmp/next.lua"
mv "$tmp/next.lua" "$prov"
fixed() { [[ $(k -n "$ns" get pod first -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}') == fixed ]]; }
if wait_until 5 fixed; then tap_pass "a fixed file reloads after the failures"; else tap_fail "a fixed file reloads after the failures" "$(vk_log_tail vk)"; fi
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
