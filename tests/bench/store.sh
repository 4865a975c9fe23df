#!/usr/bin/env bash
# The edge cache's cost and benefit (issue 11): vk with each store backend
# beside vk without one, on one local control plane, in one run.
#
#   tests/bench/store.sh [--pods N] [--rounds R] [--out DIR]
#
# Per round and variant (none, embedded, redis, etcd), with providers/mock.lua:
#   - the churn of tests/bench/run.sh (create N pods, all Running, delete all,
#     all gone; the same load client), its throughput and vk's RSS at N;
#   - store writes per pod event: vk's own count at exit (commits of the
#     write-behind / pod events the informer saw);
#   - reconnect to Ready: vk's link to the API server (a relay) is cut until
#     the node-lifecycle controller marks the node unknown, then restored;
#     the time from the restore to the Node's Ready=True.
# Writes the medians as a markdown table (printed, and to
# DIR/DATE-store-NN.md; default tests/bench/results).  Not a timed test.
# Everything it starts it stops by PID at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
# shellcheck source=binaries.sh
source "$here/binaries.sh"

pods=200 rounds=1 out_dir=$here/results
while (($#)); do
	case $1 in
	--pods) pods=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--out) out_dir=$2; shift 2 ;;
	*) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
say() { echo "[bench-store] $*" >&2; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vk/bench
mkdir -p "$cache" "$out_dir"

bench_vk
loadgen_bin=$(bench_tool loadgen)

node=bench-store
tmp= # set by tmp_dir (lib.sh)
tmp_dir tmp
say "starting the control plane in $tmp/cluster"
# A short grace period: the node is marked unknown soon after the cut.
VK_NODE_GRACE=${VK_NODE_GRACE:-10s} cluster_up "$tmp/cluster" "$node" >&2 || { say "control plane did not start"; exit 1; }
k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
on_exit "'$VK_CLUSTER/store-down.sh' '$tmp/stores' >/dev/null 2>&1"
"$VK_CLUSTER/store-up.sh" "$tmp/stores" redis etcd >&2 || { say "the stores did not start"; exit 1; }
# shellcheck source=/dev/null
source "$tmp/stores/store.env"

python3 "$VK_CLUSTER/relay.py" "${APISERVER##*:}" >"$tmp/relay.port" 2>>"$tmp/relay.log" &
relay_pid=$!
on_exit "kill -TERM $relay_pid 2>/dev/null; wait $relay_pid 2>/dev/null"
wait_until 10 test -s "$tmp/relay.port" || { say "the relay did not start"; exit 1; }
sed -E "s#server: https://127.0.0.1:[0-9]+#server: https://127.0.0.1:$(head -n1 "$tmp/relay.port")#" \
	"$CLUSTER_DIR/$node.kubeconfig" >"$tmp/relay.kubeconfig"

cap=$((pods > 110 ? pods : 110))
printf '{"cpu": "20", "memory": "100Gi", "pods": "%s"}\n' "$cap" >"$tmp/mock.json"
mkdir -p "$tmp/raw" "$tmp/logs"
head -c 32 /dev/urandom >"$tmp/key"

node_ready() { [[ $(k get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == "$1" ]]; }
now_ms() { date +%s%3N; }

run_one() { # VARIANT ROUND
	local v=$1 r=$2 args=() logf=$tmp/logs/$1-$2.log ns=bench-store-$1-$2
	case $v in
	none) args=(--store none) ;;
	embedded) args=(--store embedded --state-dir "$tmp/state-$r") ;;
	redis) args=(--store "$REDIS_URL") ;;
	etcd) args=(--store "$STORE_ETCD_URL") ;;
	esac
	[[ $v == none ]] || args+=(--state-key-file "$tmp/key")
	say "round $r: $v, $pods pods"
	"$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.json" \
		--kubeconfig "$tmp/relay.kubeconfig" --nodename "$node" --port 0 --log-level info \
		"${args[@]}" </dev/null >"$logf" 2>&1 &
	local pid=$!
	on_exit "kill -TERM $pid 2>/dev/null || true"
	wait_until 60 node_ready True || { say "$v: node not Ready"; tail -20 "$logf" >&2; return 1; }
	"$loadgen_bin" -kubeconfig "$ADMIN_KUBECONFIG" -namespace "$ns" -node "$node" -run-id "s$r" \
		-pods "$pods" -clk-tck "$(getconf CLK_TCK)" -settle 3s -idle 5s -steady 3s -timeout "$((600 + pods))s" \
		-pid "$pid" -taint-key virtual-kubelet.io/provider -taint-value mock \
		>"$tmp/raw/$v-$r.json" 2>"$tmp/logs/loadgen-$v-$r.log" || { say "$v: load client failed"; tail -20 "$tmp/logs/loadgen-$v-$r.log" >&2; return 1; }
	# Reconnect: cut until the node is marked unknown, then restore.
	kill -USR1 "$relay_pid"
	wait_until 120 node_ready Unknown || { say "$v: the node was not marked Unknown"; return 1; }
	local t0 t1
	t0=$(now_ms)
	kill -USR2 "$relay_pid"
	VK_POLL=0.05 wait_until 120 node_ready True || { say "$v: not Ready after the link came back"; return 1; }
	t1=$(now_ms)
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	local per
	per=$(grep -o '([0-9.]* commits per pod event)' "$logf" | tail -n1 | tr -dc '0-9.')
	python3 - "$tmp/raw/$v-$r.json" "$((t1 - t0))" "${per:-}" <<'PY'
import json, sys
p, ms, per = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = json.load(open(p))
d["reconnect_to_ready_ms"] = ms
d["store_commits_per_pod_event"] = float(per) if per else None
json.dump(d, open(p, "w"))
PY
	k delete node "$node" --wait=false >/dev/null 2>&1 || true
	k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	ns_gone() { ! k get namespace "$ns" >/dev/null 2>&1; }
	wait_until 120 ns_gone || say "namespace $ns still there; going on"
}

for ((r = 1; r <= rounds; r++)); do
	for v in none embedded redis etcd; do run_one "$v" "$r" || exit 1; done
done

stamp=$(date -u +%Y-%m-%d)
md=$out_dir/$stamp-store-N$pods.md
mkdir -p "$out_dir/$stamp-store-N$pods.raw"
cp "$tmp/raw/"*.json "$out_dir/$stamp-store-N$pods.raw/"
python3 - "$tmp/raw" "$pods" "$rounds" "$("$VK_BIN" --version)" "$(git -C "$VK_ROOT" describe --always --dirty 2>/dev/null || echo '?')" >"$md" <<'PY'
import glob, json, os, statistics, sys
raw, pods, rounds, ver, rev = sys.argv[1:6]
def med(v, key):
    xs = [json.load(open(f)).get(key) for f in sorted(glob.glob(os.path.join(raw, v + "-*.json")))]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
base = med("none", "churn_pods_per_s")
print(f"# vk's edge cache: each store beside none (N={pods}, {rounds} round(s), medians)\n")
print(f"{ver} ({rev}), release build, providers/mock.lua, log level info; {os.cpu_count()} CPUs, a shared busy machine.\n")
print("| store | churn pods/s | ratio to no store (goal ≥ 0.9) | RSS at N (MiB) | store commits per pod event | reconnect → Ready (ms) |")
print("|---|---|---|---|---|---|")
for v in ["none", "embedded", "redis", "etcd"]:
    c = med(v, "churn_pods_per_s"); rss = med(v, "steady_rss_kb"); per = med(v, "store_commits_per_pod_event")
    rc = med(v, "reconnect_to_ready_ms")
    ratio = f"{c / base:.2f}" if c and base else "-"
    print(f"| {v} | {c:.1f} | {ratio} | {rss / 1024:.1f} | {'-' if per is None else f'{per:.3f}'} | {rc:.0f} |")
PY
cat "$md"
say "wrote $md"
