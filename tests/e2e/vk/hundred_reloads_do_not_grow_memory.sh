#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# 100 hot reloads in a row: vk's RSS does not grow beyond noise, because
# each old version is freed once its last callback ended; the pods keep
# running through all of them and each reload is one swap.
# vk-valgrind: no (it measures RSS, which valgrind's own heap replaces)
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 6
vk_setup node
reload_setup
# ASan's quarantine keeps freed memory resident for a while (it is a
# use-after-free detector); without it RSS shows what vk really holds.
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0" vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
for i in $(seq 1 5); do pod_yaml "p$i" "$node"; echo ---; done | k apply -f - >/dev/null
running() { [[ $(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running) == 5 ]]; }
wait_until 60 running || tap_bail "pods not Running: $(vk_log_tail vk)"
uids=$(k -n "$ns" get pods -o jsonpath='{.items[*].metadata.uid}')

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$vk_pid/status"; }
# reload_n N: N edits, each waiting for its reload to be logged.
done_reloads=0
reload_n() {
	local i
	for ((i = 0; i < $1; i++)); do
		done_reloads=$((done_reloads + 1))
		set_message "version $done_reloads"
		wait_until 5 reached || tap_bail "reload $done_reloads not seen: $(vk_log_tail vk)"
	done
}
reached() { (($(reloads_logged vk) >= done_reloads)); }

# The Lua heap after a full collection, as the last on_reload recorded it.
lua_kb() { grep '"call":"on_reload"' "$tmp/calls.jsonl" | tail -1 | jq .data.lua_kb; }

reload_n 20 # warm up: the allocator and Lua's GC settle
sleep 1
rss0=$(rss) lua0=$(lua_kb)
reload_n 100
sleep 1
rss1=$(rss) lua1=$(lua_kb)
growth=$((rss1 - rss0)) lgrowth=$((lua1 - lua0))
tap_diag "after 20 reloads: RSS $rss0 kB, Lua heap $lua0 kB; after 120: RSS $rss1 kB, Lua heap $lua1 kB"
tap_is "$(reloads_logged vk)" 120 "every one of the 120 saves was one reload"
# One version of recorder.lua is ~14 kB of Lua objects (functions, tables,
# strings): 100 versions kept would add ~1.4 MB to the heap.
if ((lgrowth < 256)); then tap_pass "the Lua heap did not grow over 100 reloads ($lgrowth kB): old versions are freed"
else tap_fail "the Lua heap did not grow over 100 reloads" "$lua0 kB -> $lua1 kB"; fi
# RSS moves more: the allocator settles over the first few hundred reloads
# (seen: +0.7 MB for reloads 20-120, then flat from ~450 to 800).
if ((growth < 2048)); then tap_pass "RSS grew less than 2 MiB over 100 reloads ($growth kB)"; else tap_fail "RSS grew less than 2 MiB over 100 reloads" "$rss0 kB -> $rss1 kB"; fi
tap_is "$(k -n "$ns" get pods -o jsonpath='{.items[*].metadata.uid}')" "$uids" "the pods are the same pods"
tap_is "$(calls create_pod)" 5 "no pod was created again"
has_last() { all_messages_are "version $done_reloads" 5; }
if wait_until 5 has_last; then tap_pass "the last version serves the statuses"; else tap_fail "the last version serves the statuses" "$(ready_messages | sort | uniq -c)"; fi
tap_done
