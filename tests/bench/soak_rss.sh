#!/usr/bin/env bash
# Memory soak (issue 14): vk with providers/mock.lua keeps 1000 pods while a
# load client (tests/bench/churn) replaces them continuously for 30 minutes
# against a control plane of its own; vk's RSS is sampled every 5 s, and
# once a minute at a quiet moment: the churn pauses until exactly N pods
# exist, all Running (on a busy machine deletions lag, so between those
# moments vk holds a varying number of pods and its RSS follows them).
#
#   tests/bench/soak_rss.sh [--pods N] [--minutes M] [--rate R] [--warmup-minutes W] [--out DIR]
#   tests/bench/soak_rss.sh --from FILE.dat ...   the figures and plot of an earlier run
#
# The bar: after the first W minutes (5), the quiet samples stay within
# 1 MiB (the largest minus the smallest).  Writes DIR/DATE-soak-rss.dat
# (seconds, RSS KiB, pods existing, created, deleted, quiet 0/1),
# DIR/DATE-soak-rss.png (the curves) and DIR/DATE-soak-rss.md (the
# figures) and DIR/DATE-soak-rss-heap.dat (vk's /metrics every 5 s:
# seconds, RSS KiB, Lua heap, C heap in use, C heap free, SQLite bytes);
# default DIR tests/bench/results.
# Exit 0 when the bar holds.  Everything it starts it stops by PID at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
# shellcheck source=binaries.sh
source "$here/binaries.sh"

pods=1000 minutes=30 rate=10 warmup=5 out_dir=$here/results from=
while (($#)); do
	case $1 in
	--pods) pods=$2; shift 2 ;;
	--minutes) minutes=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--warmup-minutes) warmup=$2; shift 2 ;;
	--out) out_dir=$2; shift 2 ;;
	--from) from=$(realpath "$2"); shift 2 ;;
	*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
say() { echo "[soak] $*" >&2; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vk/bench
mkdir -p "$cache" "$out_dir"

tmp= # set by tmp_dir (lib.sh)
tmp_dir tmp
if [[ -n $from ]]; then
	cp "$from" "$tmp/soak.dat"
	echo "churn: figures recomputed from $(basename "$from") (the churn's own summary is in the run's output)" >"$tmp/churn.log"
else
	bench_vk
	churn_bin=$(bench_tool churn)

	node=bench-soak
	say "starting the control plane in $tmp/cluster"
	cluster_up "$tmp/cluster" "$node" >&2 || { say "control plane did not start"; exit 1; }
	k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

	# Room for the pods kept plus those still terminating.
	# vk's /metrics on a port nothing listens on (below the ephemeral range).
	for _ in {1..200}; do
		metrics_port=$((20000 + RANDOM % 12000))
		[[ -z $(ss -Htln "sport = :$metrics_port") ]] && break
	done
	printf '{"cpu": "200", "memory": "1000Gi", "pods": "%s"}\n' "$((pods * 2))" >"$tmp/mock.json"
	"$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.json" \
		--kubeconfig "$CLUSTER_DIR/$node.kubeconfig" --nodename "$node" --port 0 --log-level warn \
		--metrics-addr "127.0.0.1:$metrics_port" --state-dir "$tmp/vk-state" \
		</dev/null >"$tmp/vk.log" 2>&1 &
	vk_pid=$!
	on_exit "kill -TERM $vk_pid 2>/dev/null; wait $vk_pid 2>/dev/null"
	node_ready() { [[ $(k get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; }
	wait_until 60 node_ready || { say "node not Ready"; tail -20 "$tmp/vk.log" >&2; exit 1; }

	# Where the memory is: vk's own gauges beside its RSS, every 5 s.
	sample_heap() {
		local t0=$SECONDS m
		while sleep 5; do
			m=$(curl -sf --max-time 4 "http://127.0.0.1:$metrics_port/metrics" | awk '
				/^process_resident_memory_bytes /{r=$2} /^vk_lua_heap_bytes /{l=$2}
				/^vk_malloc_bytes.*in_use/{u=$2} /^vk_malloc_bytes.*free/{f=$2} /^vk_sqlite_memory_bytes /{q=$2}
				END { if (r) printf "%d %d %d %d %d", r / 1024, l, u, f, q }') || continue
			[[ -n $m ]] && echo "$((SECONDS - t0)) $m"
		done
	}
	sample_heap >"$tmp/heap.dat" &
	heap_pid=$!
	on_exit "kill $heap_pid 2>/dev/null"
	say "churning $pods pods at $rate pods/s for $minutes minutes (vk PID $vk_pid)"
	"$churn_bin" -kubeconfig "$ADMIN_KUBECONFIG" -node "$node" -namespace soak -pods "$pods" \
		-rate "$rate" -duration "${minutes}m" -sample 5s -pid "$vk_pid" >"$tmp/soak.dat" 2>"$tmp/churn.log" ||
		{ say "the churn client failed"; tail -20 "$tmp/churn.log" >&2; tail -20 "$tmp/vk.log" >&2; exit 1; }
	cat "$tmp/churn.log" >&2
	pid_alive "$vk_pid" || { say "vk died"; tail -20 "$tmp/vk.log" >&2; exit 1; }
	# Why vk's pod watch restarted: the API server's count of the watchers
	# it closed as unresponsive (its watch cache could not hand them events
	# in time), beside vk's own counters.
	{
		curl -sf --max-time 10 "http://127.0.0.1:$metrics_port/metrics" |
			awk '/^vk_watch_restarts_total|^vk_events_dropped_total|^vk_api_requests_total.*code="0"/'
		k get --raw /metrics 2>/dev/null | awk '/^apiserver_terminated_watchers_total.*resource="pods"/'
	} >"$tmp/end-counters.txt" || true
fi

stamp=$(date -u +%Y-%m-%d)
base=$out_dir/$stamp-soak-rss
[[ $tmp/soak.dat -ef $base.dat ]] || cp "$tmp/soak.dat" "$base.dat"
[[ -z $from ]] && cp "$tmp/heap.dat" "$base-heap.dat"
# vk's gauges at the quiet samples after the warm-up (the nearest 5-s sample):
# lowest and highest Lua heap, C heap in use, SQLite, in KiB.
heap_at_quiet=$( [[ -f $base-heap.dat ]] && awk -v w=$((warmup * 60)) 'NR == FNR { t[NR] = $1; l[NR] = $3; u[NR] = $4; q[NR] = $6; n = NR; next }
	$1 >= w && $6 == 1 { b = 1; for (i = 1; i <= n; i++) if ((t[i] - $1)^2 < (t[b] - $1)^2) b = i
		v[1] = l[b]; v[2] = u[b]; v[3] = q[b]
		for (j = 1; j <= 3; j++) { if (!c || v[j] < lo[j]) lo[j] = v[j]; if (!c || v[j] > hi[j]) hi[j] = v[j] }
		c++ }
	END { if (c) printf "%d / %d KiB | %d / %d KiB | %d / %d KiB", lo[1] / 1024, hi[1] / 1024, lo[2] / 1024, hi[2] / 1024, lo[3] / 1024, hi[3] / 1024 }' "$base-heap.dat" "$base.dat")
read -r lo hi first last n < <(awk -v w=$((warmup * 60)) '$1 >= w && $6 == 1 {
	if (n == 0 || $2 < lo) lo = $2; if (n == 0 || $2 > hi) hi = $2
	if (n == 0) first = $2; last = $2; n++ }
	END { print lo + 0, hi + 0, first + 0, last + 0, n + 0 }' "$base.dat")
spread=$((hi - lo))
# The same after twice the warm-up: what vk caches by design (the Event
# correlator's 4096 keys, as client-go's) may still be filling at W minutes.
spread2=$(awk -v w=$((warmup * 120)) '$1 >= w && $6 == 1 { if (n == 0 || $2 < lo) lo = $2; if (n == 0 || $2 > hi) hi = $2; n++ }
	END { print hi - lo }' "$base.dat")
verdict=PASS
((n > 0 && spread <= 1024)) || verdict=FAIL
all_lo=$(awk -v w=$((warmup * 60)) '$1 >= w { if (!m || $2 < m) m = $2 } END { print m + 0 }' "$base.dat")
all_hi=$(awk -v w=$((warmup * 60)) '$1 >= w { if ($2 > m) m = $2 } END { print m + 0 }' "$base.dat")
gnuplot -e "data='$base.dat'; out='$base.png'; warmup=$((warmup * 60)); lo=$lo; hi=$hi; n=$pods" "$here/soak_rss.gp"
{
	echo "# vk memory soak: $pods mock pods churned for $minutes minutes ($stamp)"
	echo
	echo "$("${VK_BIN:-$VK_ROOT/build-bench/vk}" --version) ($(git -C "$VK_ROOT" describe --always --dirty 2>/dev/null || echo '?')), release build, providers/mock.lua, log level warn;"
	echo "$(nproc) CPUs, a shared busy machine. Load: tests/bench/churn, $rate pods/s replaced (graceful deletes)."
	echo
	tail -n1 "$tmp/churn.log" | sed 's/^churn: //'
	echo
	echo "| figure | value |"
	echo "|---|---|"
	echo "| quiet samples after the first $warmup min | $n (one a minute, $pods pods Running, none terminating) |"
	echo "| quiet RSS, first after $warmup min | $first KiB |"
	echo "| quiet RSS, last | $last KiB |"
	echo "| quiet RSS, lowest / highest after $warmup min | $lo / $hi KiB |"
	echo "| quiet spread (bar: ≤ 1024 KiB) | $spread KiB: **$verdict** |"
	echo "| quiet spread after $((warmup * 2)) min | $spread2 KiB |"
	echo "| every sample after $warmup min, lowest / highest (churning, pods terminating) | $all_lo / $all_hi KiB |"
	if [[ -n $heap_at_quiet ]]; then
		echo
		echo "vk's gauges at the quiet samples after $warmup min, lowest / highest (vk_lua_heap_bytes, vk_malloc_bytes{state=\"in_use\"}, vk_sqlite_memory_bytes; \`$(basename "$base-heap.dat")\`):"
		echo
		echo "| Lua heap | C heap in use | SQLite |"
		echo "|---|---|---|"
		echo "| $heap_at_quiet |"
	fi
	if [[ -s $tmp/end-counters.txt ]]; then
		echo
		echo "Counters at the end (vk's /metrics; the API server's watchers it closed as unresponsive):"
		echo
		sed 's/^/    /' "$tmp/end-counters.txt"
	fi
	echo
	echo "Samples: \`$(basename "$base.dat")\` (seconds, RSS KiB, pods existing, created, deleted, quiet); plot: \`$(basename "$base.png")\`."
} >"$base.md"
cat "$base.md"
say "wrote $base.md, $base.png, $base.dat"
[[ $verdict == PASS ]]
