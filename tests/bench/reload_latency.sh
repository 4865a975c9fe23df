#!/usr/bin/env bash
# Measures hot reload: the time from a provider file saved to the new logic
# active, over N reloads (default 20), two ways side by side:
#   vk:  vk's own log, from the first file event seen to the swap done
#        (includes the 100 ms quiet time of the watcher);
#   api: from just before the save to the new status arriving at a
#        `kubectl get --watch` on the pod (adds the resync through the new
#        version, the PATCH, and the API server's watch delivery).
#
#   VK_BIN=$PWD/build/vk bash tests/bench/reload_latency.sh [N] [PODS]
# With PODS > 1 (default 1), "api" is until the last of the pods has it.
#   VK_TEST_CLUSTER=/tmp/rl VK_TEST_NODE_INDEX=18 bash tests/bench/reload_latency.sh
set -euo pipefail
source "$(dirname "$0")/../e2e/vk/common.bash"
source "$(dirname "$0")/../e2e/vk/reload.bash"
n=${1:-20} npods=${2:-1}
vk_setup node
reload_setup
# shellcheck disable=SC2086 # VK_BENCH_FLAGS: extra flags, split on spaces
vk_start vk "$node" "$prov" --provider-config "$tmp/config.yaml" --status-interval 600000 ${VK_BENCH_FLAGS:-}
wait_until 10 node_is "$node" True || tap_bail "node not Ready"
for ((i = 1; i <= npods; i++)); do pod_yaml "p$i" "$node"; echo ---; done | k apply -f - >/dev/null
running() { [[ $(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running) == "$npods" ]]; }
wait_until 60 running || tap_bail "pods not Running"

# Each watch event: "<ns since epoch> <pod> <Ready message>".
mkfifo "$tmp/watch.fifo"
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" get pods --watch \
	-o jsonpath='{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].message}{"\n"}' >"$tmp/watch.fifo" 2>/dev/null &
on_exit "kill $! 2>/dev/null"
while IFS= read -r line; do echo "$(date +%s%N) $line"; done <"$tmp/watch.fifo" >"$tmp/watch.log" &
on_exit "kill $! 2>/dev/null"
sleep 1

api=() vkms=()
for ((i = 1; i <= n; i++)); do
	t0=$(date +%s%N)
	set_message "measure $i"
	# the time the last pod first showed the new message
	last_seen() { grep " measure $i\$" "$tmp/watch.log" | awk -v want="$npods" '
		!($2 in s) { s[$2] = $1; c++; if ($1 > m) m = $1 } END { if (c == want) print m; else exit 1 }'; }
	VK_POLL=0.01 wait_until 10 last_seen || { echo "reload $i not seen on all pods" >&2; continue; }
	t1=$(last_seen)
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
stats "api: file saved -> new status of $npods pod(s) at a watcher" "${api[@]}"
