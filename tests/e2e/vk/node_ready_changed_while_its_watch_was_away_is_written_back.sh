#!/usr/bin/env bash
# A Ready condition another writer changed while vk's watch of its Node was
# away is written back when the watch returns.  vk reaches the API server
# through inject_relay.py: it answers every request 429 (an overloaded
# server, so the link stays up and nothing else tells vk to look again)
# and ends the watches being streamed, as an API server ends a watch at its
# timeout.  Meanwhile the test sets Ready=Unknown, as the node lifecycle
# controller does when a Lease is late.  A watch started again sends the
# Node as ADDED, not MODIFIED: vk must compare that one too, or it leaves
# the Unknown (and the unreachable taint that follows it) until its
# 5-minute status report.
set -euo pipefail
source "$(dirname "$0")/partition.bash" # relay_kubeconfig, relay_stop
tap_plan 4
vk_setup node

python3 "$VK_ROOT/tests/faults/inject_relay.py" "${APISERVER##*:}" "$CLUSTER_DIR/pki" "node-$node" \
	"$tmp/inj.requests" 0 >"$tmp/inj.port" 2>>"$tmp/inj.log" &
inj_pid=$!
on_exit "relay_stop $inj_pid"
wait_until 30 test -s "$tmp/inj.port" || tap_bail "the injecting relay did not start: $(cat "$tmp/inj.log")"
relay_kubeconfig "$node" "$(head -1 "$tmp/inj.port")" "$tmp/inj.kubeconfig" || tap_bail "no relay kubeconfig"
tap_context "echo '--- the relay:'; tail -n 5 '$tmp/inj.log' '$tmp/inj.requests'"

VK_KUBECONFIG=$tmp/inj.kubeconfig vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
# Watches of the Node the relay answered 429 (none before the HUP: it
# injects nothing until then).
refused_watches() { awk '$2 == "GET" && $3 ~ /^\/api\/v1\/nodes\?watch=true/ && $4 == 429' "$tmp/inj.requests" | wc -l; }

# vk's Node watch must be streaming through the relay before the relay ends
# the watches: Ready comes from the registration, before that watch starts
# (a soak run once signalled first, and the relay ended 0 watches).
node_watch_relayed() { awk '$2 == "GET" && $3 ~ /^\/api\/v1\/nodes\?watch=true/ && $4 == 200' "$tmp/inj.requests" | grep -q .; }
wait_until 30 node_watch_relayed || tap_bail "vk's Node watch never went through the relay: $(tail -5 "$tmp/inj.requests")"
kill -HUP "$inj_pid"   # every request 429 from now on
kill -WINCH "$inj_pid" # the watches end
rewatched() { (($(refused_watches) > 0)); }
if wait_until 30 rewatched; then
	tap_pass "the relay ended vk's Node watch and vk's next one was answered 429"
else
	tap_fail "the relay ended vk's Node watch and vk's next one was answered 429" \
		"Node watches answered 429 at the relay: $(refused_watches)" "$(grep 'nodes?watch' "$tmp/inj.requests" | tail -3)"
fi

k patch node "$node" --subresource=status --type=strategic -p \
	'{"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown","message":"set by the test"}]}}' >/dev/null
tap_is "$(node_ready "$node")" Unknown "the API holds Ready=Unknown while vk's Node watch is away"
# The node lifecycle controller taints the node for it (another change vk
# must not need to see); a few seconds are enough, and waiting longer
# proves nothing more.
tainted() { k get node "$node" -o jsonpath='{.spec.taints[*].key}' | grep -q node.kubernetes.io/unreachable; }
wait_until 10 tainted || tap_diag "the controller did not taint the node within the wait (not needed)"

kill -USR1 "$inj_pid" # the server takes calls again
if wait_until 60 node_is "$node" True; then
	tap_pass "Ready=True is written back once the Node watch returns"
else
	tap_fail "Ready=True is written back once the Node watch returns" "Ready=$(node_ready "$node")" "$(vk_log_tail vk)"
fi
tap_like "$(grep -m1 'is Ready=Unknown in the API' "$tmp/vk.log" || true)" \
	"Node $node is Ready=Unknown in the API; writing its status" "vk logs why it wrote the status"
