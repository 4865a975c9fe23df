#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: tmp by tmp_dir (lib.sh)
# A fleet of N vk processes (providers/mock.lua, PODS pods each) against one
# local control plane (issue 17): the time until all N nodes are Ready, the
# API requests per node per minute at idle (against kubelet's documented
# steady state: a lease renewal every 10 s, the node status every 5 min =
# 6.2/min), and the total RSS of the N vk against N x one tuned
# virtual-kubelet (tests/bench/tunedvk) holding the same PODS pods.
#
#   tests/bench/fleet.sh [N] [--pods-per-node P] [--idle-seconds S] [--out DIR]
#   (also: tests/bench/run.sh --fleet N ...)
#
# Requests per node are the API server's apiserver_request_total (WATCH not
# counted) over S seconds (120; keep it a multiple of the 10 s lease period)
# with the fleet idle, minus the same window with the control plane alone
# before the fleet started, over N.  Writes
# DIR/DATE-fleet-NN.md, .png (nodes Ready over time) and .raw/ (default
# tests/bench/results/, the latest per N kept).  Everything it starts it
# stops by PID.  The fleet's vk run with --no-reload (SIGHUP still reloads):
# watching the sources takes one inotify instance per process, and
# fs.inotify.max_user_instances (128 here) is shared by every process of the
# user, the control planes' included.
set -euo pipefail
export VK_APISERVER_WAIT=${VK_APISERVER_WAIT:-300} # a loaded machine starts it slowly
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
# shellcheck source=binaries.sh
source "$here/binaries.sh"

n=200 per=5 idle_s=120 out_dir=$here/results
[[ ${1:-} =~ ^[0-9]+$ ]] && { n=$1; shift; }
while (($#)); do
	case $1 in
	--pods-per-node) per=$2; shift 2 ;;
	--idle-seconds) idle_s=$2; shift 2 ;;
	--out) out_dir=$2; shift 2 ;;
	*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
((n > 0 && n <= 999)) || { echo "fleet.sh: N must be 1..999" >&2; exit 2; }
say() { echo "[fleet] $*" >&2; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vk/bench
mkdir -p "$cache" "$out_dir"

bench_vk
tuned_bin=$(bench_tool tunedvk)
command -v gnuplot >/dev/null || { say "gnuplot is missing (tests/bench/run.sh installs gnuplot-nox)"; exit 1; }

nodes=()
for ((i = 1; i <= n; i++)); do nodes+=("$(printf 'fleet-%03d' "$i")"); done
tuned_node=fleet-tuned
tmp_dir tmp
mkdir -p "$tmp/raw" "$tmp/logs"
say "load before: $(cut -d' ' -f1-3 /proc/loadavg); starting the control plane with $((n + 1)) node identities"
cluster_up "$tmp/cluster" "${nodes[@]}" "$tuned_node" >&2 || { say "control plane did not start"; exit 1; }
k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
kr() { # k, tried again: a loaded API server times out a TLS handshake now and then (reads and apply only)
	local i
	for ((i = 1; i <= 5; i++)); do
		k "$@" && return 0
		sleep 2
	done
	return 1
}
pids=()
stop_all() { # TERM all, then wait; KILL what is left after 20 s
	local p i
	for p in "${pids[@]}"; do pid_alive "$p" && kill -TERM "$p" 2>/dev/null; done
	for ((i = 0; i < 200; i++)); do
		local left=0
		for p in "${pids[@]}"; do pid_alive "$p" && left=1; done
		((left)) || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do pid_alive "$p" && { say "pid $p ignored TERM; killing it"; kill -KILL "$p" 2>/dev/null; }; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
on_exit stop_all

# Counts of apiserver_request_total by "VERB resource[/sub]", WATCH left out.
requests() { # FILE
	kr get --raw /metrics | awk '/^apiserver_request_total\{/ {
		v = ""; r = ""; s = ""
		if (match($0, /verb="[A-Z]+"/)) v = substr($0, RSTART + 6, RLENGTH - 7)
		if (match($0, /resource="[^"]*"/)) r = substr($0, RSTART + 10, RLENGTH - 11)
		if (match($0, /subresource="[^"]*"/)) s = substr($0, RSTART + 13, RLENGTH - 14)
		if (v == "WATCH" || v == "") next
		key = v " " r (s != "" ? "/" s : ""); c[key] += $NF
	} END { for (x in c) print x, c[x] }' | sort >"$1"
}
delta() { # BEFORE AFTER -> "KEY COUNT" per key, then the total
	awk 'NR == FNR { b[$1 " " $2] = $3; next } { d = $3 - b[$1 " " $2]; if (d > 0) print $1, $2, d }' "$1" "$2"
}
sum3() { awk '{ s += $3 } END { print s + 0 }' "$@"; }

say "baseline: the control plane alone, ${idle_s} s"
sleep 10
requests "$tmp/raw/base0.txt"
b0=$(date +%s%N)
sleep "$idle_s"
requests "$tmp/raw/base1.txt"
b1=$(date +%s%N)
delta "$tmp/raw/base0.txt" "$tmp/raw/base1.txt" >"$tmp/raw/base-delta.txt"

printf '{"cpu": "20", "memory": "100Gi", "pods": "110"}\n' >"$tmp/cap.json"
start_vk() { # NODE
	"$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/cap.json" \
		--kubeconfig "$CLUSTER_DIR/$1.kubeconfig" --nodename "$1" --listen-address 127.0.0.1 --port 0 \
		--log-level warn --no-reload --state-dir "$tmp/state/$1" </dev/null >"$tmp/logs/$1.log" 2>&1 &
	pids+=($!)
}
ready_count() { # a loaded API server may time out a read: that sample counts as not yet
	local out
	out=$(k get nodes --request-timeout=60s -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null) || return 1
	awk '$1 ~ /^fleet-[0-9]+$/ && $2 == "True"' <<<"$out" | wc -l
}

say "starting $n vk (load $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$(date +%s%N)
for node in "${nodes[@]}"; do start_vk "$node"; done
: >"$tmp/raw/ready.dat"
ready=0
while :; do
	t=$(date +%s%N)
	if ! ready=$(ready_count); then
		((t - t0 < 600 * 1000000000)) || { say "the API server did not answer after 600 s"; break; }
		ready=${last_ready:-0}
		sleep 1
		continue
	fi
	last_ready=$ready
	echo "$(awk -v a="$t0" -v b="$t" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') $ready" >>"$tmp/raw/ready.dat"
	((ready >= n)) && break
	((t - t0 < 600 * 1000000000)) || { say "only $ready of $n nodes Ready after 600 s"; break; }
	sleep 0.5
done
all_ready_s=$(tail -1 "$tmp/raw/ready.dat" | cut -d' ' -f1)
alive=0
for p in "${pids[@]}"; do pid_alive "$p" && alive=$((alive + 1)); done
say "$ready of $n Ready after $all_ready_s s; $alive vk alive"

# PODS pods per node, bound by name, tolerating vk's taint.
taint=$(kr get node "${nodes[0]}" -o jsonpath='{range .spec.taints[*]}{.key}={.value}{"\n"}{end}' | grep '^virtual-kubelet.io/provider=' | head -1 || true)
kr create namespace fleet >/dev/null 2>&1 || kr get namespace fleet >/dev/null
pods_yaml() { # NODE...
	local node j
	for node in "$@"; do
		for ((j = 1; j <= per; j++)); do
			cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $node-p$j, namespace: fleet}
spec:
  nodeName: $node
  tolerations: [{key: "${taint%%=*}", operator: Equal, value: "${taint#*=}", effect: NoSchedule}]
  containers: [{name: c, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}]
---
YAML
		done
	done
}
say "creating $((n * per)) pods"
pods_yaml "${nodes[@]}" >"$tmp/pods.yaml"
kr apply -f "$tmp/pods.yaml" >/dev/null
running() { (($(kr -n fleet get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running) >= n * per)); }
wait_until 600 running || say "not all $((n * per)) pods Running after 600 s"
nrun=$(kr -n fleet get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running || true)

say "fleet idle: settle 20 s, then ${idle_s} s"
sleep 20
requests "$tmp/raw/fleet0.txt"
f0=$(date +%s%N)
mem() { # PID... -> "RSS_KB ANON_KB PSS_KB" summed (Pss: shared pages split among the processes that map them)
	local p
	for p in "$@"; do cat "/proc/$p/status" "/proc/$p/smaps_rollup" 2>/dev/null; done |
		awk '/^VmRSS:/ { r += $2 } /^RssAnon:/ { a += $2 } /^Pss:/ { s += $2 } END { print r + 0, a + 0, s + 0 }'
}
: >"$tmp/raw/fleet-mem.dat"
# On a clock from f0, so that the window is idle_s (a whole number of lease
# periods) and not idle_s plus the samples' own time: the fleet started
# within seconds, so its renewals come in waves, and a window of 124 s held
# 12 or 13 waves depending on where they fell (2412 and 2612 PUTs in two
# runs of one binary).
sleep_until() { # NS since the epoch
	local left=$((($1 - $(date +%s%N)) / 1000000))
	((left > 0)) && sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"
	return 0
}
for ((s = 0; s < idle_s; s += 10)); do
	mem "${pids[@]}" >>"$tmp/raw/fleet-mem.dat"
	sleep_until $((f0 + (s + 10) * 1000000000))
done
f1=$(date +%s%N) # before the scrape, as f0 is after its own: the window is the time between them
requests "$tmp/raw/fleet1.txt"
delta "$tmp/raw/fleet0.txt" "$tmp/raw/fleet1.txt" >"$tmp/raw/fleet-delta.txt"
stop_all

# One tuned virtual-kubelet with the same PODS pods: the peer's RSS.
say "one tuned virtual-kubelet with $per pods"
"$tuned_bin" -kubeconfig "$CLUSTER_DIR/$tuned_node.kubeconfig" -nodename "$tuned_node" -provider-config "$tmp/cap.json" \
	-listen 127.0.0.1:0 -cert "$CLUSTER_DIR/pki/node-$tuned_node-serving.crt" \
	-key "$CLUSTER_DIR/pki/node-$tuned_node-serving.key" -log-level warn </dev/null >"$tmp/logs/tuned.log" 2>&1 &
pids+=($!)
tuned_pid=$!
tuned_ready() { [[ $(k get node "$tuned_node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; }
wait_until 60 tuned_ready || { say "tuned peer not Ready"; tail -20 "$tmp/logs/tuned.log" >&2; exit 1; }
taint=virtual-kubelet.io/provider=mock
pods_yaml "$tuned_node" | k apply -f - >/dev/null
tuned_running() { (($(kr -n fleet get pods -o jsonpath="{range .items[?(@.spec.nodeName==\"$tuned_node\")]}{.status.phase}{\"\\n\"}{end}" | grep -cx Running) >= per)); }
wait_until 60 tuned_running || say "the tuned peer's pods are not Running"
sleep 20
: >"$tmp/raw/tuned-mem.dat"
for ((s = 0; s < 30; s += 3)); do mem "$tuned_pid" >>"$tmp/raw/tuned-mem.dat"; sleep 3; done
stop_all

# ---- the report -------------------------------------------------------------
stamp=$(date -u +%Y-%m-%d)
base=$out_dir/$stamp-fleet-N$n
for old in "$out_dir"/????-??-??-fleet-N"$n".md; do
	[[ -e $old && $old != "$base.md" ]] || continue
	rm -rf "${old%.md}.md" "${old%.md}.png" "${old%.md}.raw"
done
rm -rf "$base.raw" && cp -r "$tmp/raw" "$base.raw"
rm -rf "$base.logs" && mkdir -p "$base.logs" && cp "$tmp/logs/tuned.log" "$tmp/logs/${nodes[0]}.log" "$base.logs/"
base_total=$(sum3 "$tmp/raw/base-delta.txt")
fleet_total=$(sum3 "$tmp/raw/fleet-delta.txt")
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fleet_rss=$(cut -d' ' -f1 "$tmp/raw/fleet-mem.dat" | med)
fleet_anon=$(cut -d' ' -f2 "$tmp/raw/fleet-mem.dat" | med)
tuned_rss=$(cut -d' ' -f1 "$tmp/raw/tuned-mem.dat" | med)
tuned_anon=$(cut -d' ' -f2 "$tmp/raw/tuned-mem.dat" | med)
fleet_pss=$(cut -d' ' -f3 "$tmp/raw/fleet-mem.dat" | med)
{
	echo "# A fleet of $n vk (mock, $per pods each) against one control plane"
	echo
	awk -v n="$n" -v per="$per" -v idle="$idle_s" -v bt="$base_total" -v ft="$fleet_total" -v bs="$(((b1 - b0) / 1000000))" -v fs="$(((f1 - f0) / 1000000))" -v ready="$ready" \
		-v all="$all_ready_s" -v alive="$alive" -v nrun="$nrun" -v fr="$fleet_rss" -v fa="$fleet_anon" \
		-v tr="$tuned_rss" -v ta="$tuned_anon" -v fp="$fleet_pss" 'BEGIN {
		# Each window as measured (the memory samples make the fleet window longer
		# than its sleeps), the requests of the control plane alone scaled to it.
		rate = (ft - bt * fs / bs) / n / (fs / 60000); kube = 6.2
		print "| figure | measured | goal | met |"
		print "|---|---:|---:|:---:|"
		printf "| nodes Ready / started | %d / %d (%d vk alive) | %d | %s |\n", ready, n, alive, n, (ready == n ? "yes" : "no")
		printf "| time from the first start until all %d Ready (s) | %s | report | |\n", n, all
		printf "| pods Running | %d / %d | | |\n", nrun, n * per
		printf "| API requests per node per minute at idle (fleet %d in %.1f s - control plane alone %d in %.1f s) | %.2f | | |\n", ft, fs / 1000, bt, bs / 1000, rate
		printf "| the same / kubelet'"'"'s documented steady state (6.2/min: lease every 10 s, node status every 5 min) | %.2f | <= 1.0 | %s |\n", rate / kube, (rate / kube <= 1.0 ? "yes" : "no")
		printf "| total RSS of %d vk (MiB) | %.1f | | |\n", n, fr / 1024
		printf "| total RssAnon of %d vk (MiB) | %.1f | | |\n", n, fa / 1024
		printf "| RSS of one tuned virtual-kubelet with %d pods (MiB) | %.1f | | |\n", per, tr / 1024
		printf "| RssAnon of one tuned virtual-kubelet with %d pods (MiB) | %.1f | | |\n", per, ta / 1024
		printf "| total RSS of %d vk / %d x one tuned virtual-kubelet | %.3f | <= 0.2 | %s |\n", n, n, fr / (n * tr), (fr / (n * tr) <= 0.2 ? "yes" : "no")
		printf "| total RssAnon of %d vk / %d x one tuned virtual-kubelet | %.3f | | |\n", n, n, fa / (n * ta)
		printf "| total Pss of %d vk (MiB): the memory they take together | %.1f | | |\n", n, fp / 1024
		printf "| total Pss of %d vk / what %d tuned virtual-kubelets take together (%d x RssAnon + its file pages once) | %.3f | | |\n", n, n, n, fp / (n * ta + (tr - ta))
	}'
	echo
	echo "API requests during the fleet's idle window ($(((f1 - f0) / 1000000000)) s, all clients, WATCH not counted):"
	echo
	sort -k3,3nr "$tmp/raw/fleet-delta.txt" | awk '{ printf "%s%s %s %d", (NR > 1 ? ", " : "- "), $1, $2, $3 } END { print "" }'
	echo
	echo "The same window with the control plane alone, before the fleet:"
	echo
	sort -k3,3nr "$tmp/raw/base-delta.txt" | awk '{ printf "%s%s %s %d", (NR > 1 ? ", " : "- "), $1, $2, $3 } END { print "" }'
	echo
	echo "Memory is VmRSS / RssAnon from /proc/PID/status: for the fleet the sum over all $n vk, the median of samples every 10 s over the idle window; for the tuned peer the median of samples every 3 s over 30 s with its $per pods Running, 20 s after they were. RSS counts each process's shared pages (the vk binary, libc, libcurl, liblua) once per process, as N separate machines would; Pss (from /proc/PID/smaps_rollup) splits them among the processes, so its sum is what the N vk take of this machine's memory."
	echo
	echo "Setup: vk \`$("$VK_BIN" --version 2>&1 | head -1)\` ($(git -C "$VK_ROOT" describe --always --dirty 2>/dev/null || echo '?'), release build, providers/mock.lua, log level warn, --no-reload); tuned virtual-kubelet: tests/bench/tunedvk; control plane $(basename "$BIN"); $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine); $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo
	echo "![nodes Ready over time]($(basename "$base.png"))"
} >"$base.md"
gnuplot -e "set terminal pngcairo size 900,500 noenhanced; set output '$base.png'; set grid; set key bottom right;
	set title 'vk fleet: nodes Ready after the first vk started (N = $n)'; set xlabel 'seconds'; set ylabel 'nodes Ready';
	set yrange [0:$n*1.05]; plot '$tmp/raw/ready.dat' using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'Ready nodes'"
cat "$base.md"
say "wrote $base.md and $base.png (raw data in $base.raw/)"
