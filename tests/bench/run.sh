#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: tmp by tmp_dir (lib.sh)
# Benchmarks vk against its peers on one local control plane (issues 6, 17).
# Runs vk, upstream virtual-kubelet, the raw API ceiling, then again, ROUNDS
# times, and reports the medians as a markdown table (printed and written to
# tests/bench/results/DATE-NPODS.md) with a PNG plot of pods Running over time.
#
#   tests/bench/run.sh [--pods N] [--rounds R] [--idle-seconds S] [--log-level L] [--out DIR]
#   tests/bench/run.sh --smoke        N=20, 1 round, short idle (harness check)
#   tests/bench/run.sh --peers [--pods 1000]   vk, tuned virtual-kubelet, upstream, ceilings
#                     [--agents "vk tuned ceiling"]   a subset of the agents, in this order
#   tests/bench/run.sh --pods 10000   N >= 5000: vk and the ceiling, a hot reload at N
#   tests/bench/run.sh --kubelet      vk + mynode vs kubelet, real containers (kubelet.sh)
#   tests/bench/run.sh --fleet N      N vk processes on one control plane (fleet.sh)
#
# What it needs it builds or installs once: a release build of vk in
# build-bench/ (or $VK_BIN), upstream virtual-kubelet and the load client
# under ~/.cache/vk/bench/ (Go module tests/bench/go.mod), gnuplot-nox.
# Everything it starts it stops by PID at exit; VK_KEEP_TMP=1 keeps the
# temporary folder (logs, raw JSON).  Progress goes to stderr, the table to
# stdout.
set -euo pipefail
export VK_APISERVER_WAIT=${VK_APISERVER_WAIT:-300} # a loaded machine starts it slowly
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
# shellcheck source=binaries.sh
source "$here/binaries.sh"

pods='' rounds='' only_agents='' idle_s=60 settle_s=10 steady_s=5 log_level='' out_dir=$here/results mode=classic
case ${1:-} in # modes of their own, in scripts beside this one
--kubelet) shift; exec "$here/kubelet.sh" "$@" ;;
--fleet) shift; exec "$here/fleet.sh" "$@" ;;
esac
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
	case $1 in
	--pods) pods=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--idle-seconds) idle_s=$2; shift 2 ;;
	--log-level) log_level=$2; shift 2 ;;
	--out) out_dir=$2; shift 2 ;;
	--smoke) pods=20 rounds=1 idle_s=3 settle_s=2 steady_s=2; shift ;;
	--peers) mode=peers; shift ;;
	--agents) only_agents=$2; shift 2 ;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
if [[ $mode == peers ]]; then
	pods=${pods:-1000} rounds=${rounds:-1}
	agents=(vk tuned upstream ceiling ceiling-min)
elif ((${pods:-0} >= 5000)); then
	# One vk node at a scale a cloud's virtual node holds: against the
	# ceiling only (upstream at 5 QPS would take hours), and a hot reload
	# with all N pods running.
	mode=scale rounds=${rounds:-1}
	agents=(vk ceiling)
else
	agents=(vk upstream ceiling ceiling-min)
fi
pods=${pods:-100} rounds=${rounds:-2}
# --agents "vk tuned ceiling": a subset, in this order (e.g. without the
# untuned upstream, whose 1000 pods take over 10 minutes at 5 QPS).
[[ -z $only_agents ]] || read -ra agents <<<"$only_agents"
[[ $pods =~ ^[0-9]+$ && $pods -gt 0 && $rounds =~ ^[0-9]+$ && $rounds -gt 0 ]] || usage
has_agent() { [[ " ${agents[*]} " == *" $1 "* ]]; }
# Logging every pod at info costs both agents alike; big runs log less.
[[ -n $log_level ]] || { if ((pods >= 500)); then log_level=warn; else log_level=info; fi; }
# The hot reload's figures are in vk's info line "reloaded: ... swapped in N ms".
vk_log_level=$log_level
[[ $mode == scale ]] && vk_log_level=info

say() { echo "[bench] $*" >&2; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vk/bench
mkdir -p "$cache" "$out_dir"

# ---- tools ------------------------------------------------------------------
if ! command -v gnuplot >/dev/null; then
	say "installing gnuplot-nox (Debian) for the plot"
	sudo=""
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
fi

bench_vk
vk_rev=$(git -C "$VK_ROOT" describe --always --dirty 2>/dev/null || echo '?') # the tree vk was built from
provider=$VK_ROOT/providers/mock.lua
[[ -f $provider ]] || provider=$VK_ROOT/tests/e2e/vk/providers/recorder.lua

# Upstream virtual-kubelet (its cmd/ with the built-in mock provider) and the
# load client, from the Go module beside this script; cached by version and
# by the load client's source.
up_ver=$(awk '$1=="require" && $2=="github.com/virtual-kubelet/virtual-kubelet" {print $3}
	$1=="github.com/virtual-kubelet/virtual-kubelet" {print $2}' "$here/go.mod" | head -1)
upstream_bin=$cache/virtual-kubelet-$up_ver/virtual-kubelet
has_agent upstream && bench_gobuild "$here" "$upstream_bin" github.com/virtual-kubelet/virtual-kubelet/cmd/virtual-kubelet "-X main.buildVersion=$up_ver"
# The tuned peer: the same library's node/nodeutil, QPS 500 / burst 1000.
tuned_bin=
has_agent tuned && tuned_bin=$(bench_tool tunedvk)
loadgen_bin=$(bench_tool loadgen)
clk_tck=$(getconf CLK_TCK)

# ---- the control plane --------------------------------------------------------
vk_node=bench-vk up_node=bench-upstream ceil_node=bench-ceiling tuned_node=bench-tuned
tmp_dir tmp
say "starting the control plane in $tmp/cluster (load: $(uptime | sed 's/.*load/load/'))"
cluster_up "$tmp/cluster" "$vk_node" "$up_node" "$tuned_node" "$ceil_node" >&2 || { say "control plane did not start"; exit 1; }
k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
# free_port_to (a free TCP port on 127.0.0.1) comes from the cluster's helpers.
# shellcheck source=../cluster/common.sh
source "$VK_CLUSTER/common.sh"
pki=$CLUSTER_DIR/pki
mkdir -p "$tmp/raw" "$tmp/logs"

# The same capacity for both agents: enough pods for the workload.
cap_pods=$((pods > 110 ? pods : 110))
printf '{"cpu": "20", "memory": "100Gi", "pods": "%s"}\n' "$cap_pods" >"$tmp/vk-config.json"
printf '{"%s": {"cpu": "20", "memory": "100Gi", "pods": "%s"}}\n' "$up_node" "$cap_pods" >"$tmp/upstream-config.json"

# ---- the agents -----------------------------------------------------------------
agent_pid=
free_port_to vk_metrics_port # where RssAnon goes at N (reload_at_n.sh reads it)
start_agent() { # vk|tuned|upstream KUBECONFIG LOG
	local which=$1 kc=$2 logf=$3
	if [[ $which == vk ]]; then
		"$VK_BIN" --provider "$provider" --provider-config "$tmp/vk-config.json" --kubeconfig "$kc" \
			--nodename "$vk_node" --listen-address 127.0.0.1 --port 0 --log-level "$vk_log_level" \
			--state-dir "$tmp/vk-state" --metrics-addr "127.0.0.1:$vk_metrics_port" </dev/null >>"$logf" 2>&1 &
	elif [[ $which == tuned ]]; then
		"$tuned_bin" -kubeconfig "$kc" -nodename "$tuned_node" -provider-config "$tmp/vk-config.json" \
			-listen 127.0.0.1:0 -cert "$pki/node-$tuned_node-serving.crt" -key "$pki/node-$tuned_node-serving.key" \
			-qps 500 -burst 1000 -log-level "$log_level" </dev/null >>"$logf" 2>&1 &
	else
		# Upstream listens on all addresses of KUBELET_PORT (it has no address
		# flag); it needs a serving certificate or it does not start.
		local up_port up_metrics
		free_port_to up_port
		free_port_to up_metrics
		KUBELET_PORT=$up_port APISERVER_CERT_LOCATION=$pki/node-$up_node-serving.crt \
			APISERVER_KEY_LOCATION=$pki/node-$up_node-serving.key \
			"$upstream_bin" --provider mock --provider-config "$tmp/upstream-config.json" \
			--kubeconfig "$kc" --nodename "$up_node" --metrics-addr "127.0.0.1:$up_metrics" \
			--log-level "$log_level" </dev/null >>"$logf" 2>&1 &
	fi
	agent_pid=$!
	on_exit "stop_pid $agent_pid"
}

stop_pid() { # PID: TERM, KILL after 15 s
	local pid=$1 i
	pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do pid_alive "$pid" || break; sleep 0.1; done
	pid_alive "$pid" && { say "pid $pid ignored TERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
	wait "$pid" 2>/dev/null || true
}

node_ready() { [[ $(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; }
node_taint() { # NODE -> KEY=VALUE of its virtual-kubelet taint
	k get node "$1" -o jsonpath='{range .spec.taints[*]}{.key}={.value}{"\n"}{end}' | grep '^virtual-kubelet.io/provider=' | head -1
}

# Upstream's node sets the label kubernetes.io/role, which NodeRestriction
# refuses to a node identity: find out whether it registers as its node, and
# fall back to the admin identity if not (said in the table's footnote).
up_kubeconfig=$CLUSTER_DIR/$up_node.kubeconfig up_identity="system:node:$up_node" up_note=''
probe_upstream() {
say "probing whether upstream registers with its node identity"
start_agent upstream "$up_kubeconfig" "$tmp/logs/upstream-probe.log"
if wait_until 30 node_ready "$up_node"; then
	up_note="Upstream ran as its node identity system:node:$up_node, like vk."
else
	why=$(grep -m1 '^Error: ' "$tmp/logs/upstream-probe.log" | sed 's/^Error: //' || true)
	say "upstream did not register as system:node:$up_node: ${why:-see $tmp/logs/upstream-probe.log}"
	up_kubeconfig=$ADMIN_KUBECONFIG up_identity="vk-admin (system:masters)"
	up_note="Upstream could not register as its node identity system:node:$up_node (the API server said: ${why:-no Ready node within 30 s}); it ran with the admin kubeconfig (group system:masters) instead. vk ran as system:node:$vk_node."
fi
stop_pid "$agent_pid"
k delete node "$up_node" --wait=false >/dev/null 2>&1 || true
up_note="$up_note Upstream's cmd/virtual-kubelet sets no QPS on its client, so client-go's default limit (5 QPS, burst 10) applies to it; vk has no client-side limit."
say "$up_note"
}
has_agent upstream && probe_upstream
# nodeutil lists ConfigMaps and Secrets cluster-wide, which the Node
# authorizer refuses to a node identity; without this grant (what a
# virtual-kubelet deployment's RBAC gives it) its pod controller never
# started a pod (1000 stayed Pending, 2026-12-02).
if has_agent tuned; then
	k create clusterrole bench-tunedvk --verb=get,list,watch --resource=configmaps,secrets >/dev/null
	k create clusterrolebinding bench-tunedvk --clusterrole=bench-tunedvk --user="system:node:$tuned_node" >/dev/null
fi
has_agent tuned && up_note="$up_note The tuned virtual-kubelet (tests/bench/tunedvk: the library's node/nodeutil $up_ver, an in-memory provider that acts like upstream's mock, client QPS 500 / burst 1000, 10 pod workers) ran as its node identity system:node:$tuned_node."
[[ $mode == scale ]] && up_note="$up_note vk logged at info here (the hot reload's figures are an info line); the hot reload is SIGHUP with all N pods Running (tests/bench/reload_at_n.sh)."

# ---- one measured run ---------------------------------------------------------
# run_one vk|upstream|ceiling|ceiling-min ROUND: writes $tmp/raw/WHICH-ROUND.json.
# ceiling: the writes kubelet makes (Running status, terminal status, delete);
# ceiling-min: the fewest an agent can make (Running status, delete).
run_one() {
	local which=$1 r=$2 node kc taint lgargs=() logf=$tmp/logs/$1-$2.log
	local ns=bench-$which-$r
	case $which in
	vk) node=$vk_node kc=$CLUSTER_DIR/$vk_node.kubeconfig ;;
	upstream) node=$up_node kc=$up_kubeconfig ;;
	tuned) node=$tuned_node kc=$CLUSTER_DIR/$tuned_node.kubeconfig ;;
	ceiling | ceiling-min) node=$ceil_node ;;
	esac
	say "round $r: $which, $pods pods"
	if [[ $which == ceiling* ]]; then
		# The simulated agent writes as its node, as kubelet does: its
		# requests are in the API server's "system" priority level with vk's,
		# not exempt as the admin's are.
		lgargs=(-simulate-agent -create-node -taint-value simulated -agent-kubeconfig "$CLUSTER_DIR/$ceil_node.kubeconfig")
		[[ $which == ceiling ]] && lgargs+=(-terminal-status)
	else
		start_agent "$which" "$kc" "$logf"
		if ! wait_until 60 node_ready "$node"; then
			say "$which: node $node not Ready after 60 s; its log:"
			tail -n 30 "$logf" >&2
			return 1
		fi
		taint=$(node_taint "$node")
		lgargs=(-pid "$agent_pid" -taint-key "${taint%%=*}" -taint-value "${taint#*=}")
		if [[ $mode == scale && $which == vk ]]; then
			lgargs+=(-at-n "$here/reload_at_n.sh $agent_pid $logf $ns $ADMIN_KUBECONFIG $KUBECTL 15 http://127.0.0.1:$vk_metrics_port/metrics")
		fi
	fi
	if ! "$loadgen_bin" -kubeconfig "$ADMIN_KUBECONFIG" -namespace "$ns" -node "$node" -run-id "b$r" \
		-pods "$pods" -clk-tck "$clk_tck" -settle "${settle_s}s" -idle "${idle_s}s" -steady "${steady_s}s" \
		-timeout "$((600 + pods))s" "${lgargs[@]}" >"$tmp/raw/$which-$r.json" 2>"$tmp/logs/loadgen-$which-$r.log"; then
		say "$which round $r: the load client failed:"
		tail -n 20 "$tmp/logs/loadgen-$which-$r.log" >&2
		[[ $which == ceiling* ]] || { say "agent log:"; tail -n 30 "$logf" >&2; }
		return 1
	fi
	if [[ $which != ceiling* ]]; then
		pid_alive "$agent_pid" || { say "$which exited during the run"; tail -n 30 "$logf" >&2; return 1; }
		stop_pid "$agent_pid"
	fi
	k delete node "$node" --wait=false >/dev/null 2>&1 || true
	k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	# The namespace controller's clean-up is API work of its own: let it end
	# before the next run, so that it lands in nobody's measurement.
	ns_gone() { ! k get namespace "$ns" >/dev/null 2>&1; }
	wait_until 120 ns_gone || say "namespace $ns still there after 120 s; going on"
}

for ((r = 1; r <= rounds; r++)); do
	for which in "${agents[@]}"; do
		run_one "$which" "$r" || exit 1
	done
done

# ---- the report -----------------------------------------------------------------
stamp=$(date -u +%Y-%m-%d)
prefix='' # one result per mode and N
[[ $mode == peers ]] && prefix=peers-
base=$out_dir/$stamp-${prefix}N$pods
# results/ keeps one result per mode and N (the latest); older ones live in git's history
for old in "$out_dir"/????-??-??-"${prefix}N$pods".md; do
	[[ -e $old && $old != "$base.md" ]] || continue
	rm -rf "${old%.md}.md" "${old%.md}.png" "${old%.md}.raw" "${old%.md}.logs"
	say "removed the older result $(basename "$old") (git keeps it)"
done
rm -rf "$base.raw"
mkdir -p "$base.raw"
cp "$tmp/raw/"*.json "$base.raw/"
rm -rf "$base.logs" && cp -r "$tmp/logs" "$base.logs" # agents' and load client's logs (not committed)
vk_ver=$("$VK_BIN" --version 2>&1 | head -1 || true)
python3 "$here/report.py" --mode "$mode" --raw "$base.raw" --pods "$pods" --rounds "$rounds" --idle-seconds "$idle_s" \
	--md "$base.md" --plot-data "$tmp/plot" \
	--meta "vk: \`$vk_ver\` ($vk_rev, release build, provider $(basename "$provider"), log level $vk_log_level); upstream virtual-kubelet $up_ver (cmd/virtual-kubelet, provider mock, as $up_identity, log level $log_level); control plane $(basename "$BIN"); $(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine); $(date -u '+%Y-%m-%d %H:%M UTC')." \
	--note "$up_note"
gnuplot -e "datadir='$tmp/plot'; out='$base.png'; n=$pods" "$here/plot.gp"
printf '![pods Running over time](%s)\n' "$(basename "$base.png")" >>"$base.md"
cat "$base.md"
say "wrote $base.md and $base.png (raw JSON in $base.raw/, logs in $base.logs/)"
