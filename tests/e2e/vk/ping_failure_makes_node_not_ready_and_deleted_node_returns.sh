#!/usr/bin/env bash
# NodeProvider.Ping: while ping() raises, the node is NotReady with the
# error as the Ready condition's message; Ready again once it recovers.  A
# deleted Node is registered again.  A Ready that another writer changed
# (the node-lifecycle controller's Unknown) is written back at once, not at
# the next 5-minute status report.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 9
vk_setup node

printf 'ping_fail_file: %s\nrecord: %s\n' "$tmp/ping-fails" "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

touch "$tmp/ping-fails"
if wait_until 15 node_is "$node" False; then tap_pass "node goes NotReady while ping fails"; else tap_fail "node goes NotReady while ping fails" "$(vk_log_tail vk)"; fi
msg=$(k get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
tap_like "$msg" "^[^ ]*recorder.lua:[0-9]+: ping: [^ ]*ping-fails exists$" "the Ready message is the provider's error with file:line"
# A failed ping is asked again after 1 s, 2 s, 4 s (then up to the 10 s
# period): four failures come within 7 s, where a ping only every period
# would take 30 s.  The bound is generous for a busy machine.
failed_pings() { grep -c '"call":"ping_failed"' "$tmp/calls.jsonl" 2>/dev/null || true; }
four_failed() { (($(failed_pings) >= 4)); }
if wait_until 20 four_failed; then tap_pass "a failing ping is asked again sooner than the period"; else tap_fail "a failing ping is asked again sooner than the period" "failed pings within 20 s: $(failed_pings); $(vk_log_tail vk)"; fi
rm -f "$tmp/ping-fails"
if wait_until 15 node_is "$node" True; then tap_pass "node is Ready again once ping recovers"; else tap_fail "node is Ready again once ping recovers"; fi

# As the node-lifecycle controller does when a lease is late.
k patch node "$node" --subresource=status --type=strategic -p \
	'{"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown","message":"set by the test"}]}}' >/dev/null
if wait_until 15 node_is "$node" True; then tap_pass "a Ready set to Unknown by another writer is written back"; else tap_fail "a Ready set to Unknown by another writer is written back" "$(vk_log_tail vk)"; fi
tap_like "$(grep -m1 'is Ready=Unknown in the API' "$tmp/vk.log" || true)" "Node $node is Ready=Unknown in the API; writing its status" "vk logs why it wrote the status"

node_uid() { k get node "$node" -o jsonpath='{.metadata.uid}' 2>/dev/null; }
lease_owner() { k -n kube-node-lease get lease "$node" -o jsonpath='{.metadata.ownerReferences[0].uid}' 2>/dev/null; }
recreated() { local u; u=$(node_uid); [[ -n $u && $u != "$uid" ]]; }
lease_follows() { [[ -n $(lease_owner) && $(lease_owner) == "$(node_uid)" ]]; }

uid=$(node_uid)
k delete node "$node" >/dev/null
if wait_until 15 recreated; then tap_pass "a deleted Node is registered again"; else tap_fail "a deleted Node is registered again" "$(vk_log_tail vk)"; fi
wait_until 15 node_is "$node" True || true
tap_is "$(node_ready "$node")" True "the re-created Node is Ready"
wait_until 20 lease_follows || true
tap_is "$(lease_owner)" "$(node_uid)" "the lease is owned by the new Node"
tap_done
