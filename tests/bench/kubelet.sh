#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: tmp by tmp_dir (lib.sh)
# vk + providers/mynode.lua against kubelet v1.35.4 (built from the control
# plane's own Go module, tests/cluster/k8s) on real containers (issue 17).
# Each agent gets a fresh containerd of its own (tests/cluster/containerd-up.sh;
# kubelet would stop pods it does not know); per N in PODS, the load client
# of run.sh creates N pods at once, then deletes them (grace 1 s): per-pod
# create->Running p50/p99, the agent's RSS idle and at N, its CPU seconds.
#
#   tests/bench/kubelet.sh [--pods "20 100"] [--agents "vk kubelet"] [--idle-seconds S] [--out DIR]
#   (also: tests/bench/run.sh --kubelet ...)
#
# VK_BIN, if set, must be a vk in its build folder (or installed): mynode
# requires the vk.* Lua modules, which a vk copied elsewhere does not find.
#
# kubelet runs with the cgroupfs driver (cgroup v1 allowed), swap allowed, cgroupsPerQOS off, its
# own root and pod-log folders under the run's temporary folder, and, since
# it must not change the host's sysctls (it sets vm.overcommit_memory,
# kernel.panic and kernel.panic_on_oops unless protectKernelDefaults), in a
# mount namespace of its own where those three files read as it wants
# (protectKernelDefaults: true then only checks them).  Writes
# DIR/DATE-kubelet.md, .png and .raw/ (default tests/bench/results/).
set -euo pipefail
export VK_APISERVER_WAIT=${VK_APISERVER_WAIT:-300} # a loaded machine starts it slowly
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
# shellcheck source=binaries.sh
source "$here/binaries.sh"

sizes="20 100" agents="vk kubelet" idle_s=30 out_dir=$here/results
while (($#)); do
	case $1 in
	--pods) sizes=$2; shift 2 ;;
	--agents) agents=$2; shift 2 ;;
	--idle-seconds) idle_s=$2; shift 2 ;;
	--out) out_dir=$2; shift 2 ;;
	*) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
say() { echo "[kubelet-bench] $*" >&2; }
[[ $(id -u) -eq 0 ]] || { say "needs root (containerd, kubelet)"; exit 1; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vk/bench
mkdir -p "$cache" "$out_dir"

# ---- binaries ---------------------------------------------------------------
[[ " $agents " != *" vk "* ]] || bench_vk
k8s_ver=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$VK_CLUSTER/k8s/go.mod")
minor=$(cut -d. -f2 <<<"$k8s_ver")
kubelet_bin=$cache/kubelet-$k8s_ver/kubelet
bench_gobuild "$VK_CLUSTER/k8s" "$kubelet_bin" k8s.io/kubernetes/cmd/kubelet \
	"-X k8s.io/component-base/version.gitVersion=$k8s_ver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
loadgen_bin=$(bench_tool loadgen)
clk_tck=$(getconf CLK_TCK)

# ---- control plane ----------------------------------------------------------
vk_node=bench-mynode kl_node=bench-kubelet
tmp_dir tmp
mkdir -p "$tmp/raw" "$tmp/logs"
say "load: $(cut -d' ' -f1-3 /proc/loadavg); starting the control plane"
cluster_up "$tmp/cluster" "$vk_node" "$kl_node" >&2 || { say "control plane did not start"; exit 1; }
k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
# shellcheck source=../cluster/common.sh
source "$VK_CLUSTER/common.sh"
max_pods=0
for s in $sizes; do ((s > max_pods)) && max_pods=$s; done
((max_pods >= 110)) || max_pods=110

agent_pid=
stop_agent() {
	[[ -n $agent_pid ]] || return 0
	if pid_alive "$agent_pid"; then
		kill -TERM "$agent_pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 150; i++)); do pid_alive "$agent_pid" || break; sleep 0.1; done
		pid_alive "$agent_pid" && kill -KILL "$agent_pid" 2>/dev/null
	fi
	wait "$agent_pid" 2>/dev/null || true
	agent_pid=
}
on_exit stop_agent
node_ready() { [[ $(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; }

start_vk() { # CRI_DIR
	cat >"$tmp/mynode.yaml" <<YAML
runtime_endpoint: $CRI_ENDPOINT
log_root: $tmp/vk-podlogs
pod_root: $tmp/vk-pods
node_ip: 127.0.0.1
YAML
	"$VK_BIN" --provider "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" \
		--kubeconfig "$CLUSTER_DIR/$vk_node.kubeconfig" --nodename "$vk_node" --listen-address 127.0.0.1 --port 0 \
		--log-level warn --state-dir "$tmp/vk-state" </dev/null >>"$tmp/logs/vk.log" 2>&1 &
	agent_pid=$!
}

start_kubelet() {
	local root=$tmp/kubelet port
	free_port_to port
	mkdir -p "$root/sys" "$root/pki" "$root/podlogs"
	cat >"$root/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $port
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $CA_CERT}
authorization: {mode: AlwaysAllow}
tlsCertFile: $CLUSTER_DIR/pki/node-$kl_node-serving.crt
tlsPrivateKeyFile: $CLUSTER_DIR/pki/node-$kl_node-serving.key
containerRuntimeEndpoint: $CRI_ENDPOINT
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
protectKernelDefaults: true
maxPods: $max_pods
podLogsDir: $root/podlogs
resolvConf: ""
serializeImagePulls: false
evictionHard: {memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
YAML
	# The values kubelet checks, as files bound over /proc/sys in its own
	# mount namespace (private: nothing it mounts reaches the host).
	echo 1 >"$root/sys/overcommit_memory"
	echo 10 >"$root/sys/panic"
	echo 1 >"$root/sys/panic_on_oops"
	# shellcheck disable=SC2016 # the inner shell expands them
	unshare --mount --propagation private sh -c '
		r=$1; shift
		mount --bind "$r/sys/overcommit_memory" /proc/sys/vm/overcommit_memory &&
		mount --bind "$r/sys/panic" /proc/sys/kernel/panic &&
		mount --bind "$r/sys/panic_on_oops" /proc/sys/kernel/panic_on_oops &&
		exec "$@"' sh "$root" \
		"$kubelet_bin" --config "$root/config.yaml" --kubeconfig "$CLUSTER_DIR/$kl_node.kubeconfig" \
		--root-dir "$root/root" --cert-dir "$root/pki" --hostname-override "$kl_node" --node-ip 127.0.0.1 \
		</dev/null >>"$tmp/logs/kubelet.log" 2>&1 &
	agent_pid=$!
}

# ---- runs -----------------------------------------------------------------------
for agent in $agents; do
	containerd_up "$tmp/cri-$agent" >&2 || { say "containerd did not start"; exit 1; }
	if [[ $agent == vk ]]; then start_vk; node=$vk_node; else start_kubelet; node=$kl_node; fi
	if ! wait_until 120 node_ready "$node"; then
		say "$agent: node $node not Ready after 120 s; the end of its log:"
		tail -n 40 "$tmp/logs/$agent.log" >&2
		echo "$agent: node not Ready after 120 s: $(grep -m3 -iE 'error|fail' "$tmp/logs/$agent.log" | cut -c1-400 | tr '\n' ' ')" >"$tmp/raw/$agent-failed.txt"
		stop_agent
		containerd_down "$tmp/cri-$agent" >&2 || true
		continue
	fi
	taint=$(k get node "$node" -o jsonpath='{range .spec.taints[*]}{.key}={.value}{"\n"}{end}' | grep '^virtual-kubelet.io/provider=' | head -1 || true)
	[[ -n $taint ]] || taint=none.invalid/no-taint=none
	for n in $sizes; do
		ns=kb-$agent-$n
		say "$agent: $n pods (load $(cut -d' ' -f1-3 /proc/loadavg))"
		if ! "$loadgen_bin" -kubeconfig "$ADMIN_KUBECONFIG" -namespace "$ns" -node "$node" -run-id "k$n" \
			-pods "$n" -clk-tck "$clk_tck" -settle 10s -idle "${idle_s}s" -steady 10s -grace 1 -no-token \
			-timeout 600s -workers 16 -pid "$agent_pid" -taint-key "${taint%%=*}" -taint-value "${taint#*=}" \
			>"$tmp/raw/$agent-$n.json" 2>"$tmp/logs/loadgen-$agent-$n.log"; then
			say "$agent, $n pods: the load client failed:"
			tail -n 20 "$tmp/logs/loadgen-$agent-$n.log" >&2
			tail -n 20 "$tmp/logs/$agent.log" >&2
			rm -f "$tmp/raw/$agent-$n.json"
		fi
		k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	done
	stop_agent
	k delete node "$node" --wait=false >/dev/null 2>&1 || true
	containerd_down "$tmp/cri-$agent" >&2 || say "containerd-down of $agent's containerd reported leftovers"
done

# ---- report -----------------------------------------------------------------------
stamp=$(date -u +%Y-%m-%d)
base=$out_dir/$stamp-kubelet
for old in "$out_dir"/????-??-??-kubelet.md; do
	[[ -e $old && $old != "$base.md" ]] || continue
	rm -rf "${old%.md}.md" "${old%.md}.png" "${old%.md}.raw"
done
rm -rf "$base.raw" && cp -r "$tmp/raw" "$base.raw"
rm -rf "$base.logs" && cp -r "$tmp/logs" "$base.logs"
python3 "$here/kubelet_report.py" --raw "$base.raw" --sizes "$sizes" --md "$base.md" --plot-data "$tmp/plot" \
	--meta "vk \`$("${VK_BIN:-true}" --version 2>&1 | head -1)\` ($(git -C "$VK_ROOT" describe --always --dirty 2>/dev/null || echo '?'), release build, providers/mynode.lua, log level warn); kubelet $("$kubelet_bin" --version 2>&1 | head -1) (built from tests/cluster/k8s); containerd $(containerd --version 2>/dev/null | awk '{print $3}'), one fresh instance per agent; $(nproc) CPUs; load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine); $(date -u '+%Y-%m-%d %H:%M UTC')."
if compgen -G "$tmp/plot/*.dat" >/dev/null; then
	gnuplot -e "datadir='$tmp/plot'; out='$base.png'; n=$max_pods" "$here/plot.gp"
	echo "![pods Running over time]($(basename "$base.png"))" >>"$base.md"
fi
cat "$base.md"
say "wrote $base.md (raw JSON in $base.raw/, logs in $base.logs/)"
