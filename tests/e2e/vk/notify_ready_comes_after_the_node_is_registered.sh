#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# systemd's Type=notify without systemd: vk runs with NOTIFY_SOCKET pointing
# at a datagram socket of the test's (tests/e2e/vk/notify_listener.py, a
# stand-in for systemd), which asks the API server for the Node the moment
# READY=1 arrives.  READY=1 comes once, after the Node is registered, and
# STOPPING=1 comes on SIGTERM.  Order, not time, is checked.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 6
vk_setup node

sock=$tmp/notify.sock
python3 "$VK_ROOT/tests/e2e/vk/notify_listener.py" "$sock" "$tmp/notify.log" \
	"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" get node "$node" -o name &
listener=$!
on_exit "kill $listener 2>/dev/null; wait $listener 2>/dev/null"
wait_until 10 test -S "$sock" || tap_bail "the notify listener did not start"

NOTIFY_SOCKET=$sock vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua"
if wait_until 60 grep -q '^READY=1' "$tmp/notify.log"; then
	tap_pass "READY=1 arrives"
else
	tap_fail "READY=1 arrives" "$(cat "$tmp/notify.log" 2>/dev/null)"
fi
tap_is "$(sed -n 's/^node when READY: //p' "$tmp/notify.log")" "node/$node" \
	"the Node is in the API server when READY=1 arrives"
tap_like "$(grep -m1 '^STATUS=' "$tmp/notify.log")" "^STATUS=node $node registered" "a STATUS line says so"
tap_ok "vk logged the registration" grep -q "node $node registered" "$tmp/vk.log"

vk_stop "$vk_pid" || true
wait_until 10 grep -q '^STOPPING=1' "$tmp/notify.log" || true
tap_ok "STOPPING=1 arrives on SIGTERM" grep -q '^STOPPING=1' "$tmp/notify.log"
tap_is "$(grep -c '^READY=1' "$tmp/notify.log")" 1 "READY=1 was sent once"
tap_done
