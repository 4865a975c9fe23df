#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# A hot reload of providers/mock.lua keeps its pods: the new version takes
# the old one's records (on_reload), so kubectl exec, which looks the pod up
# in the provider, still finds it.  Before, the new version started empty:
# exec said "pod not found".  And, as every hot reload must, it touches no
# pod: the new version's status polls leave it Running with its IP.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/reload.bash"
tap_plan 5
vk_setup node

free_port_to port || tap_bail "no free port"
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
# Some polls (every 0.5 s) of the new version: they leave the pod as it was.
sleep 2
tap_is "$(k -n "$ns" get pod web -o jsonpath='{.status.phase} {.status.podIP}')" "Running $ip0" \
	"the reload touched no pod: still Running with the same IP"
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
