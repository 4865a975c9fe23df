#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# The API server's node proxy (nodes/NAME/proxy/...) refuses loopback, so
# vk runs here in a network namespace of the test's own (netns_up) at an
# address inside it, which it registers as InternalIP; the API server is
# bridged into the namespace on 127.0.0.1.  Then what clients of kubelet ask
# through the proxy answers as kubelet's would: /stats/summary (a Summary
# naming the node and its pods), /runningpods/ and /pods (PodLists), and
# /healthz.  The mock provider invents pod IPs (10.0.x.y): nothing is
# proxied to a pod, only to the node.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 11
vk_setup node
netns_up "$tmp/netns" || tap_bail "could not make the network namespace"

pki=$CLUSTER_DIR/pki
printf 'internal_ip: %s\n' "$NETNS_IP" >"$tmp/mock.yaml"
# The namespace is the test's own: kubelet's port is free in it.
VK_NETNS=$NETNS vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address "$NETNS_IP" --port 10250 --client-ca-file "$pki/ca.crt"
wait_until 15 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
tap_is "$(k get node "$node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')" "$NETNS_IP" \
	"the node registers the namespace's address as InternalIP"
tap_is "$(in_netns ss -Htnl "sport = :10250" | awk '{print $4}')" "$NETNS_IP:10250" \
	"vk's kubelet API listens on that address inside the namespace"

pod_yaml web "$node" | k apply -f - >/dev/null
pod_yaml db "$node" | k apply -f - >/dev/null
wait_until 15 pod_is web Running || tap_bail "pod web not Running"
wait_until 15 pod_is db Running || tap_bail "pod db not Running"
uid_web=$(k -n "$ns" get pod web -o jsonpath='{.metadata.uid}')

raw() { k get --raw "/api/v1/nodes/$node/proxy/$1" 2>&1; }
tap_is "$(raw healthz)" ok "proxy/healthz answers ok"

sum=$(raw stats/summary)
tap_is "$(jq -r '.node.nodeName' <<<"$sum" 2>&1)" "$node" "proxy/stats/summary is a Summary of this node"
tap_like "$(jq -r '.node.startTime' <<<"$sum" 2>&1)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' \
	"... with the node's startTime in RFC 3339"
tap_is "$(jq -r --arg ns "$ns" '[.pods[].podRef | select(.namespace == $ns) | "\(.name)/\(.uid)"] | sort | join(" ")' \
	<<<"$sum" 2>&1)" "db/$(k -n "$ns" get pod db -o jsonpath='{.metadata.uid}') web/$uid_web" \
	"... whose pods[].podRef name the node's pods with their uids"

# The core adds the machine's figures to any provider's summary (mock has
# no stats_summary), and serves them to metrics-server as /metrics/resource.
tap_is "$(jq -r --argjson n "$(nproc)" '[.node.cpu.usageCoreNanoSeconds > 0, .node.memory.workingSetBytes > 0,
	.node.fs.capacityBytes > 0, (.node.network.interfaces | length) > 0, .node.cpu.usageNanoCores <= $n * 1.05e9]
	| all' <<<"$sum" 2>&1)" true "... and the node's CPU, memory, fs and network from the host, for a provider without stats"
tap_like "$(raw metrics/resource | grep -E '^(node_cpu_usage_seconds_total|node_memory_working_set_bytes|scrape_error) ')" \
	'^node_cpu_usage_seconds_total [0-9.e+]+ [0-9]{13}
node_memory_working_set_bytes [0-9.e+]+ [0-9]{13}
scrape_error 0$' "proxy/metrics/resource has the node's CPU and working set with ms timestamps"

running=$(raw runningpods/)
tap_is "$(jq -r '"\(.kind) \(.apiVersion)"' <<<"$running" 2>&1)" "PodList v1" "proxy/runningpods/ is a v1 PodList"
tap_is "$(jq -r --arg ns "$ns" '[.items[].metadata | select(.namespace == $ns) | .name] | sort | join(" ")' \
	<<<"$running" 2>&1)" "db web" "... of the node's running pods"
tap_is "$(raw pods | jq -r --arg ns "$ns" --arg u "$uid_web" \
	'.items[] | select(.metadata.namespace == $ns and .metadata.uid == $u) | .spec.containers[0].name' 2>&1)" \
	main "proxy/pods lists the pods with their specs"
tap_done
