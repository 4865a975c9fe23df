#!/usr/bin/env bash
# Sets up this machine and runs the demo: a local control plane, containerd,
# vk as the node "edgenode" with providers/mynode.lua, and the seed's
# Deployment (examples/critest.yaml) Running on it as a real
# container.  Runs until Ctrl-C, then stops everything it started.
#
#   scripts/demo.sh            set up, run, wait for Ctrl-C
#   scripts/demo.sh --once     set up, run, show, and clean up (for scripts)
#
# Everything lives under ${VK_DEMO_DIR:-/tmp/vk-demo}; vk's log is vk.log there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
once=0
[[ ${1:-} == --once ]] && once=1
demo=${VK_DEMO_DIR:-/tmp/vk-demo}
node=edgenode
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

scripts/install-deps.sh
say "building vk"
[[ -f build/build.ninja ]] || meson setup build -Dbuildtype=release -Dcurl_dir="$(scripts/build-curl.sh)" >/dev/null
meson compile -C build >/dev/null

rm -rf "$demo"
mkdir -p "$demo"
vk_pid=""
cleanup() {
	trap - EXIT INT TERM
	say "stopping"
	if [[ -n $vk_pid ]] && kill -0 "$vk_pid" 2>/dev/null; then
		k delete deployment critest --wait=false >/dev/null 2>&1 || true
		k delete pod hello --wait=false >/dev/null 2>&1 || true
		sleep 2
		kill -TERM "$vk_pid" 2>/dev/null || true
		wait "$vk_pid" 2>/dev/null || true
	fi
	tests/cluster/containerd-down.sh "$demo/containerd" || true
	tests/cluster/down.sh "$demo/cluster" || true
	echo "done; logs are in $demo"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting a local control plane (first run builds it: ~12 min on 2 cores)"
tests/cluster/up.sh "$demo/cluster" "$node"
# shellcheck source=/dev/null
source "$demo/cluster/env"
k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
k get --raw /readyz
echo

say "starting containerd"
tests/cluster/containerd-up.sh "$demo/containerd"
# shellcheck source=/dev/null
source "$demo/containerd/containerd.env"

cat >"$demo/mynode.yaml" <<YAML
runtime_endpoint: $CRI_ENDPOINT
log_root: $demo/pod-logs
pod_root: $demo/pods
node_ip: 127.0.0.1
capacity: {cpu: "2", memory: 4Gi, pods: "20"}
YAML
# vk's kubelet API (kubectl logs) on a free port of 127.0.0.1, with the
# node's serving certificate; the API server is its client.
kport=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000))
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { kport=$p; break; }
done
pki=$demo/cluster/pki
say "starting vk --provider providers/mynode.lua --nodename $node (kubelet API on 127.0.0.1:$kport)"
build/vk --provider providers/mynode.lua --provider-config "$demo/mynode.yaml" \
	--kubeconfig "$demo/cluster/$node.kubeconfig" --nodename "$node" \
	--state-dir "$demo/state" --listen-address 127.0.0.1 --port "$kport" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key" \
	>"$demo/vk.log" 2>&1 &
vk_pid=$!
# A progress line while it waits, instead of silence.
tries=0
until [[ $(k get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; do
	tries=$((tries + 1))
	if ! kill -0 "$vk_pid" 2>/dev/null || ((tries > 120)); then
		echo "vk did not register node $node; the end of $demo/vk.log:" >&2
		tail -n 20 "$demo/vk.log" >&2
		exit 1
	fi
	((tries % 4)) || echo "waiting for node $node to be Ready: $tries tries, next in 0.5 s (last vk line: $(tail -n 1 "$demo/vk.log" | cut -c1-120))"
	sleep 0.5
done
k get nodes -o wide

say "kubectl apply -f examples/critest.yaml"
k apply -f examples/critest.yaml
k rollout status deployment/critest --timeout=120s
k get pods -o wide
say "the container, as containerd sees it"
"$CRICTL" --config "$CRICTL_CONFIG" ps

say "kubectl logs, through vk's kubelet API, from the container's CRI log"
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  nodeSelector: {type: virtual-kubelet}
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers:
  - name: hello
    image: docker.io/library/busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'for i in 1 2 3; do echo "hello from vk \$i"; done; exec sleep 86400']
YAML
k wait --for=condition=Ready pod/hello --timeout=60s >/dev/null
sleep 1
echo "\$ kubectl logs hello"
k logs hello
echo "\$ kubectl logs hello --tail=1 --timestamps"
k logs hello --tail=1 --timestamps

if ((once)); then exit 0; fi
say "running; vk's log: $demo/vk.log.  Ctrl-C stops vk, containerd and the control plane."
echo "try: $KUBECTL --kubeconfig $ADMIN_KUBECONFIG get pods -o wide"
wait "$vk_pid"
