#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# The kubelet API: `kubectl logs` (and --tail) reach the provider's
# container_logs through the API server, which authenticates with its
# apiserver-kubelet-client certificate and is authorized by a SubjectAccessReview;
# /healthz answers over TLS with the node's serving certificate; anonymous
# /pods is 401, a user without nodes/proxy gets 403; `kubectl exec`
# reaches the provider; /stats/summary answers; SIGTERM ends vk.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 11
vk_setup node

# A port nothing listens on (the API server reaches vk there).
port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000)) # below the ephemeral range
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port"

pki=$CLUSTER_DIR/pki
cat >"$tmp/mock.yaml" <<YAML
internal_ip: 127.0.0.1
log_text: "first line\nsecond line\nthird line\n"
YAML
vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
tap_is "$(k get node "$node" -o jsonpath='{.status.daemonEndpoints.kubeletEndpoint.Port}')" "$port" \
	"the node advertises the kubelet API port"

pod_yaml web "$node" | k apply -f - >/dev/null
wait_until 10 pod_is web Running || tap_bail "pod not Running"

tap_is "$(k -n "$ns" logs web 2>&1)" $'first line\nsecond line\nthird line' "kubectl logs returns the provider's log text"
tap_is "$(k -n "$ns" logs --tail=1 web 2>&1)" "third line" "kubectl logs --tail=1 returns the last line"
tap_is "$(k -n "$ns" logs -c main --limit-bytes=5 web 2>&1)" "first" "kubectl logs --limit-bytes=5 returns 5 bytes"

tap_is "$(curl -s --max-time 5 --cacert "$pki/ca.crt" "https://127.0.0.1:$port/healthz")" ok \
	"/healthz answers ok over TLS with the node's serving certificate"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$pki/ca.crt" "https://127.0.0.1:$port/pods")
tap_is "$code" 401 "an anonymous /pods is refused with 401"
pod_names=$(curl -s --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/apiserver-kubelet-client.crt" \
	--key "$pki/apiserver-kubelet-client.key" "https://127.0.0.1:$port/pods" | jq -r '.items[].metadata.name' 2>&1)
tap_is "$pod_names" web "/pods with the API server's client certificate lists the node's pod"
# Authorization is kubelet's Webhook mode: a SubjectAccessReview.  The node's
# own identity may not use nodes/proxy; the API server's (system:masters) may.
body=$(curl -s -w ' %{http_code}' --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/node-$node.crt" \
	--key "$pki/node-$node.key" "https://127.0.0.1:$port/pods")
tap_is "$body" "Forbidden (user=system:node:$node, verb=get, resource=nodes, subresource(s)=[proxy])"$'\n'" 403" \
	"a client certificate whose user may not get nodes/proxy is refused with 403"

out=$(timeout 20 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" exec web -- ls -l 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" "0:ls -l" "kubectl exec reaches the provider's exec (mock writes the command line)"

# (The API server's node proxy refuses loopback addresses, so ask directly.)
node_of=$(curl -s --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/apiserver-kubelet-client.crt" \
	--key "$pki/apiserver-kubelet-client.key" "https://127.0.0.1:$port/stats/summary" | jq -r '.node.nodeName' 2>&1) || true
tap_is "$node_of" "$node" "/stats/summary names the node"

# The API server keeps its connections to the kubelet API open: SIGTERM
# still ends vk by itself and cleanly (vk_stop would SIGKILL it after 10 s,
# and the status would not be 0).  The time is shown, not judged.
t0=$(date +%s%N)
vk_stop "$vk_pid" && rc=0 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if ((rc == 0)); then
	tap_pass "SIGTERM stops vk cleanly with the API server's connections open ($ms ms)"
else
	tap_fail "SIGTERM stops vk cleanly with the API server's connections open" "rc=$rc after $ms ms"
	vk_log_tail vk
fi
tap_done
