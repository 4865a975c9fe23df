#!/usr/bin/env bash
# Measures hot reload: the time from a provider file saved to the new logic
# active, over N reloads (default 20), two ways side by side:
#   vk:  vk's own log, from the first file event seen to the swap done
#        (includes the 100 ms quiet time of the watcher);
#   api: from just before the save to the new status arriving at a
#        `kubectl get --watch` on the pod (adds the resync through the new
#        version, the PATCH, and the API server's watch delivery).
#
#   VK_BIN=$PWD/build/vk bash tests/bench/reload_latency.sh [N]
#   VK_TEST_CLUSTER=/tmp/rl VK_TEST_NODE_INDEX=18 bash tests/bench/reload_latency.sh
set -euo pipefail
source "$(dirname "$0")/../e2e/vk/common.bash"
source "$(dirname "$0")/../e2e/vk/reload.bash"
n=${1:-20}
vk_setup node
reload_setup
# shellcheck disable=SC2086 # VK_BENCH_FLAGS: extra flags, split on spaces
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml" --status-interval 600000 ${VK_BENCH_FLAGS:-}
wait_until 10 node_is "$node" True || tap_bail "node not Ready"
pod_yaml one "$node" | k apply -f - >/dev/null
wait_until 20 pod_is one Running || tap_bail "pod not Running"

# Each watch event: "<ns since epoch> <Ready message>".
mkfifo "$tmp/watch.fifo"
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" get pod one --watch -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}{"\n"}' >"$tmp/watch.fifo" 2>/dev/null &
on_exit "kill $! 2>/dev/null"
while IFS= read -r line; do echo "$(date +%s%N) $line"; done <"$tmp/watch.fifo" >"$tmp/watch.log" &
on_exit "kill $! 2>/dev/null"
sleep 1

api=() vkms=()
for ((i = 1; i <= n; i++)); do
	t0=$(date +%s%N)
	set_message "measure $i"
	seen() { grep -q " measure $i\$" "$tmp/watch.log"; }
	VK_POLL=0.01 wait_until 5 seen || { echo "reload $i not seen" >&2; continue; }
	t1=$(grep " measure $i\$" "$tmp/watch.log" | head -1 | cut -d' ' -f1)
	api+=($(((t1 - t0) / 1000000)))
	echo "reload $i: saved at $t0, seen at $t1" >>"$tmp/bench.log"
	sleep 0.3 # let the next save be a burst of its own
done
mapfile -t vkms < <(sed -nE 's/.*reloaded: code .*\(([0-9]+) ms after the change was seen\)$/\1/p' "$tmp/vk.log")
stats() { # NAME VALUES...
	local name=$1
	shift
	printf '%s\n' "$@" | sort -n | awk -v name="$name" '{ v[NR] = $1 } END {
		med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%-48s n=%d  median %s ms  min %d ms  max %d ms\n", name, NR, med, v[1], v[NR] }'
}
stats "vk: first file event -> new version swapped in" "${vkms[@]}"
stats "api: file saved -> new status seen by a watcher" "${api[@]}"
