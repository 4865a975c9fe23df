#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# kubectl exec and port-forward through the API server and vk (mynode, a
# real containerd) against crictl straight to the same containerd.
#
#   tests/bench/streams.sh [N] [MIB]     (N exec samples each, default 40;
#                                         MIB for port-forward, default 100;
#                                         VK_BIN picks the vk binary: use a
#                                         build without -Dsanitize)
#
# - exec round trip: `kubectl exec app -- true` and `crictl exec CID true`
#   on the same container, interleaved (one of each per round), wall clock
#   from the start of the command to its exit: p50, p99, max.
# - port-forward: MIB MiB of zeros from busybox httpd on the pod's
#   127.0.0.1:8080, read with curl on the local port of `kubectl
#   port-forward` and of `crictl port-forward` (best of 3 each, interleaved).
# - vk's VmRSS before and with 20 `kubectl exec -i app -- cat` open.
# Prints a Markdown table (tests/bench/results/streams.md keeps one).
# shellcheck source-path=SCRIPTDIR/../e2e
set -euo pipefail
source "$(dirname "$0")/../e2e/vk/common.bash"
n=${1:-40}
mib=${2:-100}
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "containerd-up.sh failed"
mynode_config
port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000))
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
pki=$CLUSTER_DIR/pki
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 30 node_is "$node" True || tap_bail "node not Ready"
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: $BUSYBOX_IMAGE
    command: [sh, -c, 'mkdir -p /www && head -c $((mib * 1048576)) /dev/zero > /www/big &&
      touch /www/ready && exec httpd -f -p 127.0.0.1:8080 -h /www']
YAML
wait_until 60 pod_is app Running || tap_bail "app not Running"
uid=$(k -n "$ns" get pod app -o jsonpath='{.metadata.uid}')
cid=$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --name '^main$' --state Running | head -1)
sid=$(cri pods -q --label "io.kubernetes.pod.uid=$uid" | head -1)
wait_until 60 cri exec "$cid" test -f /www/ready || tap_bail "httpd not ready"
kx() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" "$@"; }
now_us() { date +%s%6N; }

# ---- exec round trip -------------------------------------------------------
: >"$tmp/vk.ms"
: >"$tmp/cri.ms"
for _ in $(seq 1 "$n"); do
	t0=$(now_us)
	kx exec app -- true
	echo $((($(now_us) - t0) / 1000)) >>"$tmp/vk.ms"
	t0=$(now_us)
	cri exec "$cid" true
	echo $((($(now_us) - t0) / 1000)) >>"$tmp/cri.ms"
done
pct() { # FILE P -> the P-th percentile (nearest rank)
	sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print a[i] }'
}

# ---- port-forward throughput -------------------------------------------------
fetch() { # LOCALPORT -> MiB/s
	curl -s --noproxy '*' -o /dev/null --max-time 600 -w '%{size_download} %{time_total}\n' \
		"http://127.0.0.1:$1/big" | awk -v m="$mib" '{ if ($1 != m * 1048576) print "short:" $1; else printf "%.1f\n", $1 / 1048576 / $2 }'
}
free_port_to lp_vk
kx port-forward --address 127.0.0.1 pod/app "$lp_vk:8080" >"$tmp/pf-vk.out" 2>&1 &
pfk=$!
on_exit "kill $pfk 2>/dev/null"
free_port_to lp_cri
cri port-forward "$sid" "$lp_cri:8080" >"$tmp/pf-cri.out" 2>&1 &
pfc=$!
on_exit "kill $pfc 2>/dev/null"
wait_until 30 grep -q "Forwarding from 127.0.0.1:$lp_vk" "$tmp/pf-vk.out" || tap_bail "kubectl port-forward: $(cat "$tmp/pf-vk.out")"
wait_until 30 grep -q "Forwarding from 127.0.0.1:$lp_cri" "$tmp/pf-cri.out" || tap_bail "crictl port-forward: $(cat "$tmp/pf-cri.out")"
vk_mibs=() cri_mibs=()
for _ in 1 2 3; do
	vk_mibs+=("$(fetch "$lp_vk")")
	cri_mibs+=("$(fetch "$lp_cri")")
done
kill "$pfk" "$pfc" 2>/dev/null || true
best() { printf '%s\n' "$@" | sort -g | tail -1; }

# ---- RSS with 20 exec sessions open ------------------------------------------
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$vk_pid/status"; }
rss0=$(rss)
pids=()
for i in $(seq 1 20); do
	mkfifo "$tmp/in$i"
	kx exec -i app -- cat <"$tmp/in$i" >"$tmp/out$i" 2>&1 &
	pids+=($!)
	exec {fd}>"$tmp/in$i"
	echo "session $i" >&"$fd"
	fds+=("$fd")
done
on_exit "kill ${pids[*]} 2>/dev/null"
open_all() { for i in $(seq 1 20); do grep -qx "session $i" "$tmp/out$i" || return 1; done; }
wait_until 60 open_all || tap_bail "20 sessions did not all answer"
sessions=$(ss -Htn state established "( sport = :$port )" | wc -l)
rss20=$(rss)
for fd in "${fds[@]}"; do exec {fd}>&-; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done

cat <<MD
| measure | through vk (kubectl, API server) | crictl straight to containerd |
|---|---|---|
| exec round trip p50 (ms), $n interleaved | $(pct "$tmp/vk.ms" 50) | $(pct "$tmp/cri.ms" 50) |
| exec round trip p99 (ms) | $(pct "$tmp/vk.ms" 99) | $(pct "$tmp/cri.ms" 99) |
| exec round trip max (ms) | $(pct "$tmp/vk.ms" 100) | $(pct "$tmp/cri.ms" 100) |
| port-forward $mib MiB (MiB/s, best of 3; all: ${vk_mibs[*]} / ${cri_mibs[*]}) | $(best "${vk_mibs[@]}") | $(best "${cri_mibs[@]}") |
| vk VmRSS idle, 1 pod (KiB) | $rss0 | |
| vk VmRSS with 20 exec sessions open (KiB; $sessions connections on vk's port) | $rss20 | |

vk binary: $VK_BIN; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ).
MD
