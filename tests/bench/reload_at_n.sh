#!/usr/bin/env bash
# A hot reload of vk with all its pods running: run.sh's scale mode hands
# this to the load client (-at-n) once all N pods are Running.  Sends SIGHUP
# to vk, waits for its "reloaded" line, lets the status resync run, and
# prints one JSON object:
#   swap_ms          vk's "swapped in N ms" (the reload itself)
#   pods             pods in the namespace
#   pods_replaced    pods whose UID changed or that went away
#   pods_written     pods whose resourceVersion changed (any write at all)
# and, with METRICS_URL (vk's /metrics), where vk's RssAnon goes at N, read
# before the SIGHUP: rss_anon (/proc), lua_heap, malloc_in_use,
# malloc_free (held by malloc, not returned), sqlite (bytes).
#
#   reload_at_n.sh VK_PID VK_LOG NAMESPACE KUBECONFIG KUBECTL [RESYNC_WAIT_S [METRICS_URL]]
set -euo pipefail
[[ $# -ge 5 ]] || { sed -n '2,14p' "$0" >&2; exit 2; }
pid=$1 log=$2 ns=$3 kc=$4 kubectl=$5 resync_s=${6:-15} metrics=${7:-}
k() { "$kubectl" --kubeconfig "$kc" -n "$ns" "$@"; }
snap() { k get pods -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.resourceVersion}{"\n"}{end}' | sort; }

heap=''
if [[ -n $metrics ]]; then
	heap=$(curl -sf --max-time 10 "$metrics" | awk -v anon="$(awk '/^RssAnon:/ { print $2 * 1024 }' "/proc/$pid/status")" '
		/^vk_lua_heap_bytes / { l = $2 } /^vk_malloc_bytes.*in_use/ { u = $2 } /^vk_malloc_bytes.*free/ { f = $2 }
		/^vk_sqlite_memory_bytes / { q = $2 }
		END { printf ", \"rss_anon\": %d, \"lua_heap\": %d, \"malloc_in_use\": %d, \"malloc_free\": %d, \"sqlite\": %d", anon, l, u, f, q }') || heap=''
fi
before=$(snap)
lines0=$(grep -c 'reloaded: code' "$log" || true)
kill -HUP "$pid"
for ((i = 0; i < 1200; i++)); do
	(($(grep -c 'reloaded: code' "$log" || true) > lines0)) && break
	grep -q 'provider reload failed' "$log" && { echo "reload_at_n: vk's reload failed: $(grep -m1 'reload failed' "$log")" >&2; exit 1; }
	sleep 0.05
done
line=$(grep 'reloaded: code' "$log" | tail -n +$((lines0 + 1)) | head -1)
[[ -n $line ]] || { echo "reload_at_n: no reload line in $log within 60 s of SIGHUP" >&2; exit 1; }
swap=$(sed -nE 's/.*swapped in ([0-9]+) ms.*/\1/p' <<<"$line")
# The reload asks every pod's status again through the new version; a
# status that did not change must not be written.
sleep "$resync_s"
after=$(snap)
awk -v swap="$swap" -v heap="$heap" 'NR == FNR { uid[$1] = $2; rv[$1] = $3; n++; next }
	{ seen[$1] = 1; if ($2 != uid[$1]) repl++; else if ($3 != rv[$1]) wrote++ }
	END { for (p in uid) if (!(p in seen)) repl++
		printf "{\"swap_ms\": %d, \"pods\": %d, \"pods_replaced\": %d, \"pods_written\": %d%s}\n", swap, n, repl, wrote, heap }' \
	<(echo "$before") <(echo "$after")
