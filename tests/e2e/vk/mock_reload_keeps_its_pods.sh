#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# A hot reload of providers/mock.lua keeps its pods: the new version takes
# the old one's records (on_reload), so kubectl exec still finds the pod,
# and the status poll still answers it.  Before, the new version started
# empty: exec said "pod not found" and every poll answered nil.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 6
vk_setup node

port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000)) # below the ephemeral range
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port"
pki=$CLUSTER_DIR/pki
mkdir -p "$tmp/prov"
cp "$VK_ROOT/providers/mock.lua" "$tmp/prov/mock.lua"
printf 'internal_ip: 127.0.0.1\n' >"$tmp/mock.yaml"
vk_start vk "$node" "$tmp/prov/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" --status-interval 500 \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers: [{name: main, image: docker.io/library/busybox:1.35}]
YAML
wait_until 10 pod_is web Running || tap_bail "pod not Running"
kx() { timeout 30 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" "$@"; }
ip0=$(k -n "$ns" get pod web -o jsonpath='{.status.podIP}')

out=$(kx exec web -- echo before 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" "0:echo before" "kubectl exec reaches the mock's pod"

printf '\n-- edited by the test\n' >>"$tmp/prov/mock.lua"
reloaded() { (($(reloads_logged vk) >= 1)); }
wait_until 20 reloaded || tap_bail "no reload: $(vk_log_tail vk)"
tap_pass "the edit reloaded the provider"

out=$(kx exec web -- echo after 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" "0:echo after" "after the reload kubectl exec still finds the pod (the new version took the old one's)"
# A few polls (every 0.5 s) of the new version: its answers are the pod's own.
sleep 2
tap_is "$(k -n "$ns" get pod web -o jsonpath='{.status.phase} {.status.podIP}')" "Running $ip0" \
	"the pod is still Running with the same IP"
tap_is "$(grep -c 'not found' "$tmp/vk.log" || true)" 0 "vk logged no 'not found' for the pod"
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
