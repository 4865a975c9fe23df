#!/usr/bin/env bash
# Hot reload: with 20 pods Running, an edit of the provider that changes
# the Ready condition's message is visible on every pod, saved through a
# rename (sed -i) or in place (the poll interval is 10 min, so only the
# reload's resync can bring it; the time is shown, not judged: a busy
# machine stretches it, tests/bench/reload_latency.sh measures it); one
# save is one reload; the pods
# keep their UIDs and restartCounts and no create_pod or delete_pod is made;
# a ProviderReloaded Event names the new code's hash.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 11
vk_setup node
reload_setup
# A long poll interval: only the resync after the swap can bring the change.
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml" --status-interval 600000
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

for i in $(seq 1 20); do pod_yaml "p$i" "$node"; echo ---; done | k apply -f - >/dev/null
running() { [[ $(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running) == 20 ]]; }
wait_until 60 running || tap_bail "20 pods not Running: $(vk_log_tail vk)"
identity() { k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.uid}{" "}{.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort; }
before=$(identity)
tap_is "$(calls create_pod)" 20 "20 pods were created once each"

# Waits up to 30 s for the message on all 20 pods; sets $took (ms).
wait_message() { # MESSAGE
	local t0 deadline=$(($(date +%s%N) + 30000000000))
	t0=$(date +%s%N)
	until all_messages_are "$1" 20; do
		(($(date +%s%N) < deadline)) || { took=$((($(date +%s%N) - t0) / 1000000)); return 1; }
		sleep 0.05
	done
	took=$((($(date +%s%N) - t0) / 1000000))
}

set_message "version two"
if wait_message "version two"; then tap_pass "an edit saved through a rename shows on all 20 pods ($took ms)"
else tap_fail "an edit saved through a rename shows on all 20 pods" "after $took ms:" "$(ready_messages | sort | uniq -c)" "$(vk_log_tail vk)"; fi

set_message "version three" inplace
if wait_message "version three"; then tap_pass "an edit written in place shows on all 20 pods ($took ms)"
else tap_fail "an edit written in place shows on all 20 pods" "after $took ms:" "$(ready_messages | sort | uniq -c)" "$(vk_log_tail vk)"; fi
sleep 0.5
tap_is "$(reloads_logged vk)" 2 "each save is one reload"

tap_is "$(identity)" "$before" "the pods keep their UIDs and restartCounts"
tap_is "$(calls create_pod)" 20 "no create_pod was made for an existing pod"
tap_is "$(calls delete_pod)" 0 "no delete_pod was made"
tap_is "$(calls on_reload)" 2 "the new version's on_reload ran on each reload"
tap_like "$(grep '"call":"on_reload"' "$tmp/calls.jsonl" | tail -1)" '"pods":20' "on_reload took over the 20 pods"
# The messages name this test's folder, so older runs do not count.
has_reloaded() { [[ $(node_events "$node" ProviderReloaded | grep -F "$tmp/" | grep -cE '^ProviderReloaded\|provider .*recorder\.lua reloaded: code [0-9a-f]{12}$') == 2 ]]; }
if wait_until 10 has_reloaded; then tap_pass "a ProviderReloaded Event names the new code's hash, once per reload"
else tap_fail "a ProviderReloaded Event names the new code's hash, once per reload" "$(node_events "$node" ProviderReloaded)"; fi
pod_yaml after "$node" | k apply -f - >/dev/null
if wait_until 20 pod_is after Running; then tap_pass "a new pod runs on the new version"; else tap_fail "a new pod runs on the new version" "$(vk_log_tail vk)"; fi
tap_done
