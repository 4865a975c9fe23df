#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Operating vk: started from a --config file (with --namespace, --log-format
# json and --metrics-addr in it), vk serves /metrics in Prometheus text
# that promtool accepts, on --metrics-addr without TLS and on the kubelet
# port behind its authentication; the counters move as pods are created
# (callbacks, their errors, API requests, pods by phase); a pod of another
# namespace is left alone; every log line is one JSON object, and a
# provider's line names its pod and callback; $VKUBELET_POD_IP is the
# node's InternalIP.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 19
vk_setup node
command -v promtool >/dev/null || tap_bail "promtool is missing (scripts/install-deps.sh installs Debian's prometheus)"

free_port_to port || tap_bail "no free port"
free_port_to mport || tap_bail "no free port"

pki=$CLUSTER_DIR/pki
cat >"$tmp/recorder.yaml" <<YAML
record: $tmp/record.jsonl
YAML
# Everything but what vk_start gives on the command line (--provider,
# --kubeconfig, --nodename, --port 0, --state-dir): a flag overrides the
# file, so the kubelet port is a flag after vk_start's own --port 0.
cat >"$tmp/vk.yaml" <<YAML
# vk's config file: the keys are the long flags
provider-config: $tmp/recorder.yaml
namespace: $ns
listen-address: 127.0.0.1
client-ca-file: $pki/ca.crt
tls-cert-file: $pki/node-$node-serving.crt
tls-private-key-file: $pki/node-$node-serving.key
metrics-addr: 127.0.0.1:$mport
log-format: json
status-interval: 1000
YAML
# virtual-kubelet's environment: VKUBELET_POD_IP is the node's InternalIP.
VKUBELET_POD_IP=127.0.0.1 vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" \
	--config "$tmp/vk.yaml" --port "$port"
wait_until 30 node_is "$node" True || tap_bail "node not Ready"
tap_is "$(k get node "$node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')" 127.0.0.1 \
	"\$VKUBELET_POD_IP is the node's InternalIP"

scrape() { curl -sf --max-time 5 "http://127.0.0.1:$mport/metrics"; }
# metric NAME{LABELS}: its value in a fresh scrape, 0 when absent.
metric() {
	scrape | awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print 0 }'
}
at_least() { [[ $(metric "$1") -ge $2 ]]; } # NAME{LABELS} N

scrape >"$tmp/m0.txt" || tap_bail "no /metrics on --metrics-addr 127.0.0.1:$mport"
out=$(promtool check metrics <"$tmp/m0.txt" 2>&1) && rc=0 || rc=$?
tap_is "$rc" 0 "promtool check metrics accepts vk's /metrics ($out)"
missing=""
for f in vk_pods vk_provider_callback_duration_seconds vk_provider_callback_errors_total \
	vk_provider_callback_budget_kills_total vk_provider_reloads_total vk_api_requests_total \
	vk_watch_restarts_total vk_relists_total vk_lease_renewal_duration_seconds vk_store_operations_total \
	vk_lua_heap_bytes process_resident_memory_bytes process_cpu_seconds_total; do
	grep -q "^# TYPE $f " "$tmp/m0.txt" || missing+=" $f"
done
tap_is "$missing" "" "every family is exposed from the start"
tap_like "$(grep '^vk_lua_heap_bytes ' "$tmp/m0.txt")" '^vk_lua_heap_bytes [1-9][0-9]+$' "the Lua heap is counted"
tap_like "$(grep '^process_resident_memory_bytes ' "$tmp/m0.txt")" '^process_resident_memory_bytes [1-9]' \
	"and the process's RSS"
wait_until 30 at_least 'vk_lease_renewal_duration_seconds_count' 1
tap_like "$(metric 'vk_api_requests_total{verb="POST",resource="nodes",code="201"}')" '^[1-9]' \
	"the node's registration is an API request POST nodes 201"

before=$(metric 'vk_provider_callback_duration_seconds_count{callback="create_pod"}')
# A pod of another namespace, bound to this node first: --namespace leaves it.
other=${ns}x
k create namespace "$other" >/dev/null
on_exit "k delete namespace '$other' --wait=false >/dev/null 2>&1"
wait_until 30 k -n "$other" get serviceaccount default >/dev/null || tap_bail "no ServiceAccount in $other"
pod_yaml stray "$node" | sed "s/namespace: $ns/namespace: $other/" | k apply -f - >/dev/null
for p in a b c; do
	pod_yaml "$p" "$node" | sed "s/labels: {app: $p}/&, annotations: {vk-test\/log: hello from $p}/" |
		k apply -f - >/dev/null
done
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: broken, namespace: $ns, annotations: {vk-test/create: error}}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers: [{name: main, image: docker.io/library/busybox:1.35}]
YAML
for p in a b c; do wait_until 30 pod_is "$p" Running || tap_bail "pod $p not Running"; done
wait_until 30 at_least 'vk_pods{phase="Running"}' 3
tap_is "$(metric 'vk_pods{phase="Running"}')" 3 "vk_pods counts the three Running pods"
after=$(metric 'vk_provider_callback_duration_seconds_count{callback="create_pod"}')
tap_ok "create_pod's latency histogram counted the creates ($before -> $after)" test "$after" -ge $((before + 4))
wait_until 30 at_least 'vk_provider_callback_errors_total{callback="create_pod"}' 1
tap_like "$(metric 'vk_provider_callback_errors_total{callback="create_pod"}')" '^[1-9]' \
	"the failed create_pod is a callback error"
tap_like "$(metric 'vk_api_requests_total{verb="WATCH",resource="pods",code="200"}')$(metric 'vk_api_requests_total{verb="LIST",resource="pods",code="200"}')" \
	'[1-9]' "the pod list or watch is counted"
tap_is "$(k -n "$other" get pod stray -o jsonpath='{.status.phase}')" "Pending" \
	"--namespace: the pod of another namespace stays Pending"
tap_is "$(grep -c "\"$other/stray\"\|$other/stray" "$tmp/record.jsonl" || true)" 0 \
	"and the provider never heard of it"

# The kubelet port: the same text, behind the same authentication.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$pki/ca.crt" "https://127.0.0.1:$port/metrics")
tap_is "$code" 401 "/metrics on the kubelet port refuses an anonymous client"
body=$(curl -s --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/apiserver-kubelet-client.crt" \
	--key "$pki/apiserver-kubelet-client.key" "https://127.0.0.1:$port/metrics")
tap_like "$body" $'\nvk_pods\\{phase="Running"\\} 3\n' "and serves the metrics to the API server's client certificate"
body=$(curl -s -w ' %{http_code}' --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/node-$node.crt" \
	--key "$pki/node-$node.key" "https://127.0.0.1:$port/metrics")
tap_like "$body" "subresource\\(s\\)=\\[metrics\\].* 403$" "a user without nodes/metrics gets 403"

# --log-format json: every line an object with time, level and message.
bad=$(grep -v '^{' "$tmp/vk.log" | grep -v '^$' | head -3 || true)
tap_is "$bad" "" "every log line is a JSON object"
tap_ok "each has time, level and message" \
	jq -e -s 'all(.[]; (.time | type) == "string" and (.level | type) == "string" and (.message | type) == "string")' \
	"$tmp/vk.log"
n=$(jq -r "select(.pod == \"$ns/broken\" and .level == \"warn\") | .message" "$tmp/vk.log" | grep -c 'create_pod failed' || true)
tap_ok "the pod controller's warnings about a failed create name the pod ($n)" test "$n" -ge 1
tap_is "$(jq -c "select(.message == \"hello from a\") | [.pod, .callback, .component]" "$tmp/vk.log")" \
	"[\"$ns/a\",\"create_pod\",\"provider\"]" "a provider's vk.log line names its pod and callback"
tap_done
