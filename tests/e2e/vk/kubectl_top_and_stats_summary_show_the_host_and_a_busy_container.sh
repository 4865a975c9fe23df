#!/usr/bin/env bash
# shellcheck disable=SC2154,SC2016 # tmp, ns, node by name (common.bash), CRI_* (containerd.env); $x in jq programs is jq's
# `kubectl top node` and `kubectl top pod` work on a vk node running
# providers/mynode.lua on a real containerd, through the real metrics-server
# (sigs.k8s.io/metrics-server from the Go module proxy, tests/e2e/peers/
# metrics-server) reached by the API server's aggregator.  Everything stays
# on 127.0.0.1: the APIService points at an ExternalName Service
# "localhost" (the aggregator dials externalName:port), metrics-server
# listens on 127.0.0.1 and scrapes vk at the node's InternalIP 127.0.0.1
# and daemonEndpoints port, with a client certificate of the cluster CA
# whose user RBAC allows nodes/metrics only.
# Before that, vk's own answers are checked against the machine:
# /stats/summary's node CPU, memory, fs and network lie within what /proc
# and statfs said just before and after; the pods come from CRI sandbox and
# container stats (a busy container's CPU, the log file's size, the pod's
# network); /metrics/resource has the series metrics-server parses.
# The first run on a machine builds metrics-server (cached in ~/.cache/vk/peers):
# vk-test-timeout: 3600
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 22
ms_bin=$("$VK_ROOT/tests/e2e/peers/build.sh" metrics-server) || tap_bail "cannot build tests/e2e/peers/metrics-server"
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
pki=$CLUSTER_DIR/pki

free_port_to port || tap_bail "no free port"
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000 \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: busy, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: spin, image: $BUSYBOX_IMAGE, command: [sh, -c, 'while :; do :; done']}
  - {name: talk, image: $BUSYBOX_IMAGE, command: [sh, -c, 'echo hello from talk; sleep 3600']}
YAML
wait_until 60 pod_is busy Running || tap_bail "pod busy not Running: $(k -n "$ns" get pod busy -o yaml | tail -20)"

# ---- /stats/summary against /proc -------------------------------------------
as_api=(--cacert "$pki/ca.crt" --cert "$pki/apiserver-kubelet-client.crt" --key "$pki/apiserver-kubelet-client.key")
hz=$(getconf CLK_TCK)
busy_ns() { awk -v hz="$hz" '$1 == "cpu" { printf "%.0f", ($2 + $3 + $4 + $7 + $8 + $9) * 1e9 / hz }' /proc/stat; }
lo_rx() { awk '$1 == "lo:" { print $2 }' /proc/net/dev; }
mem_total=$(awk '$1 == "MemTotal:" { printf "%.0f", $2 * 1024 }' /proc/meminfo)
# The busy container's CPU must have grown: ask until it has two samples.
sum_has_pods() {
	sum=$(curl -s --max-time 10 "${as_api[@]}" "https://127.0.0.1:$port/stats/summary")
	jq -e --arg ns "$ns" '.pods[] | select(.podRef.namespace == $ns and .podRef.name == "busy")
		| .containers[] | select(.name == "spin") | .cpu.usageCoreNanoSeconds > 0' <<<"$sum" >/dev/null 2>&1
}
wait_until 60 sum_has_pods || tap_bail "no CPU of container spin in /stats/summary: ${sum:0:600}"
cpu0=$(busy_ns) rx0=$(lo_rx)
sum=$(curl -s --max-time 10 "${as_api[@]}" "https://127.0.0.1:$port/stats/summary")
cpu1=$(busy_ns) rx1=$(lo_rx)
jqs() { jq -r "$@" <<<"$sum" 2>&1; }
tap_is "$(jqs --arg c0 "$cpu0" --arg c1 "$cpu1" '.node.cpu.usageCoreNanoSeconds as $v
	| if ($v >= ($c0 | tonumber) and $v <= ($c1 | tonumber)) then "within" else "\($v) not in [\($c0), \($c1)]" end')" \
	within "node.cpu.usageCoreNanoSeconds lies between /proc/stat's busy time read before and after"
tap_is "$(jqs --argjson n "$(nproc)" '.node.cpu.usageNanoCores as $r
	| if ($r > 0 and $r <= $n * 1e9 * 1.05) then "ok" else "\($r) not in (0, \($n) cores]" end')" ok \
	"node.cpu.usageNanoCores (a rate over two samples) is above 0 and at most the machine's $(nproc) cores"
tap_is "$(jqs --argjson t "$mem_total" '.node.memory | if (.workingSetBytes > 0 and .workingSetBytes <= .usageBytes
	and .usageBytes <= $t and .availableBytes + .workingSetBytes == $t and .rssBytes > 0 and .pageFaults > 0)
	then "ok" else tostring end')" ok \
	"node.memory: 0 < workingSet <= usage <= MemTotal, available = MemTotal - workingSet, rss and page faults"
fs_want=$(stat -f -c '%b %S %f %c %d' "$tmp/vk.state" | awk '{ printf "%.0f %.0f %.0f", $1 * $2, $4, $5 }')
tap_is "$(jqs '.node.fs | "\(.capacityBytes) \(.inodes) \(.availableBytes <= .capacityBytes and .usedBytes > 0)"')" \
	"${fs_want% *} true" "node.fs is the state dir's filesystem (statfs capacity and inodes; available <= capacity)"
tap_is "$(jqs --arg r0 "$rx0" --arg r1 "$rx1" '.node.network.interfaces[] | select(.name == "lo") | .rxBytes as $v
	| if ($v >= ($r0 | tonumber) and $v <= ($r1 | tonumber)) then "within" else "\($v) not in [\($r0), \($r1)]" end')" \
	within "node.network's lo rxBytes lies between /proc/net/dev's before and after"
# Other tests' bridges and veths come and go: the machine's own interfaces only.
own='^(veth|vkbr|cni|vk)'
tap_is "$(jqs --arg own "$own" '[.node.network.interfaces[].name | select(test($own) | not)] | sort | join(" ")')" \
	"$(awk -F: -v own="$own" 'NR > 2 { gsub(/ /, "", $1); if ($1 !~ own) print $1 }' /proc/net/dev | sort | paste -sd' ')" \
	"node.network lists the interfaces of /proc/net/dev"
pod=$(jqs --arg ns "$ns" '.pods[] | select(.podRef.namespace == $ns and .podRef.name == "busy")')
pj() { jq -r "$@" <<<"$pod" 2>&1; }
tap_is "$(pj '.podRef.uid')" "$(k -n "$ns" get pod busy -o jsonpath='{.metadata.uid}')" \
	"the pod busy is in the summary with its uid"
tap_is "$(pj '[.containers[].name] | join(" ")')" "spin talk" "... with its two containers"
tap_is "$(pj '[.containers[] | select(.name == "spin") | (.cpu.usageCoreNanoSeconds > 0, .cpu.usageNanoCores > 0,
	.memory.workingSetBytes > 0, .rootfs.usedBytes >= 0, (.startTime | test("^[0-9-]+T[0-9:.]+Z$")))] | all')" true \
	"container spin: CPU time and rate, working set, rootfs, startTime from the CRI"
logf=$(find "$tmp/podlogs" -path "*busy*" -path "*talk*" -type f | head -1)
tap_is "$(pj '.containers[] | select(.name == "talk") | .logs.usedBytes')" "$(stat -c %s "$logf" 2>&1)" \
	"container talk: logs.usedBytes is its log file's size"
tap_is "$(pj '(.cpu.usageCoreNanoSeconds >= ([.containers[].cpu.usageCoreNanoSeconds] | add) * 0.5)
	and .memory.workingSetBytes > 0')" true "the pod's CPU covers its containers' and it has a working set"
tap_is "$(pj '.network | "\(.name) \(.rxBytes >= 0) \([.interfaces[].name] | index("eth0") != null)"')" \
	"eth0 true true" "the pod's network is its sandbox's eth0 (CNI bridge)"

# ---- /metrics/resource, authorized as nodes/metrics -------------------------
ms_user=vk-e2e-metrics-$ns
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ms.key" \
	-subj "/CN=$ms_user" -out "$tmp/ms.csr" 2>/dev/null
openssl x509 -req -in "$tmp/ms.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -days 1 -out "$tmp/ms.crt" 2>/dev/null ||
	tap_bail "cannot sign a client certificate"
k apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: $ms_user}
rules:
- {apiGroups: [""], resources: [nodes/metrics], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $ms_user}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $ms_user}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: $ms_user}]
YAML
on_exit "k delete clusterrolebinding,clusterrole '$ms_user' --wait=false >/dev/null 2>&1"
as_ms=(--cacert "$pki/ca.crt" --cert "$tmp/ms.crt" --key "$tmp/ms.key")
res=$(curl -s --max-time 10 "${as_ms[@]}" "https://127.0.0.1:$port/metrics/resource")
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${as_ms[@]}" "https://127.0.0.1:$port/stats/summary")
tap_is "$code" 403 "the metrics user may not read /stats/summary (nodes/stats)"
now_ms=$(($(date +%s) * 1000))
tap_is "$(awk -v now="$now_ms" '$1 == "node_cpu_usage_seconds_total" && $2 > 0 && $3 > now - 60000 && $3 <= now + 1000 { print "ok" }' <<<"$res")" \
	ok "/metrics/resource (nodes/metrics): node_cpu_usage_seconds_total in seconds with a timestamp in ms"
series="container_cpu_usage_seconds_total{container=\"spin\",namespace=\"$ns\",pod=\"busy\"}"
tap_is "$(awk -v s="$series" '$1 == s && $2 > 0 { print "ok" }' <<<"$res")" ok \
	"... container_cpu_usage_seconds_total of spin with the labels metrics-server parses"
tap_is "$(grep -cE "^(container_memory_working_set_bytes|container_start_time_seconds)\{container=\"(spin|talk)\",namespace=\"$ns\",pod=\"busy\"\} [0-9.e+]+ [0-9]+$" <<<"$res")" 4 \
	"... container_memory_working_set_bytes and container_start_time_seconds of both containers"
tap_is "$(grep -cE "^(pod_cpu_usage_seconds_total|pod_memory_working_set_bytes)\{namespace=\"$ns\",pod=\"busy\"\} |^node_memory_working_set_bytes |^(resource_)?scrape_error 0$" <<<"$res")" 5 \
	"... pod CPU and memory, node memory, scrape_error 0"

# ---- metrics-server behind the aggregator, and kubectl top -----------------
free_port_to ms_port || tap_bail "no free port"
# The aggregator checks the serving certificate against the Service's name
# (metrics-server.NS.svc), whatever address it dials.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ms-serving.key" \
	-subj "/CN=metrics-server.$ns.svc" -out "$tmp/ms-serving.csr" 2>/dev/null
openssl x509 -req -in "$tmp/ms-serving.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -days 1 \
	-extfile <(printf 'subjectAltName=DNS:metrics-server.%s.svc,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$ns") \
	-out "$tmp/ms-serving.crt" 2>/dev/null || tap_bail "cannot sign metrics-server's serving certificate"
"$ms_bin" --secure-port "$ms_port" --bind-address 127.0.0.1 \
	--tls-cert-file "$tmp/ms-serving.crt" --tls-private-key-file "$tmp/ms-serving.key" \
	--kubeconfig "$ADMIN_KUBECONFIG" --authentication-kubeconfig "$ADMIN_KUBECONFIG" \
	--authorization-kubeconfig "$ADMIN_KUBECONFIG" \
	--kubelet-client-certificate "$tmp/ms.crt" --kubelet-client-key "$tmp/ms.key" \
	--kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
	--kubelet-use-node-status-port --node-selector "kubernetes.io/hostname=$node" \
	--metric-resolution 15s >"$tmp/metrics-server.log" 2>&1 &
ms_pid=$!
tap_context "{ grep -m 5 -E '^(Error|[EF][0-9]{4} )' '$tmp/metrics-server.log' || true; tail -n 10 '$tmp/metrics-server.log'; }"
on_exit "kill $ms_pid 2>/dev/null; wait $ms_pid 2>/dev/null"
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: $ns}
spec: {type: ExternalName, externalName: localhost}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  caBundle: $(base64 -w0 "$pki/ca.crt")
  service: {namespace: $ns, name: metrics-server, port: $ms_port}
YAML
# Removed before metrics-server stops (handlers run last registered first),
# so no other test meets an unavailable metrics.k8s.io.
on_exit "k delete apiservice v1beta1.metrics.k8s.io --wait=true >/dev/null 2>&1"
# Available, and the group's discovery answers through the proxy (which,
# unlike the availability check, verifies metrics-server's certificate).
api_available() {
	[[ $(k get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}') == True ]] &&
		k get --raw /apis/metrics.k8s.io/v1beta1 >/dev/null 2>&1
}
if wait_until 90 api_available; then tap_pass "the aggregator reaches metrics-server through the ExternalName Service localhost"
else tap_fail "the aggregator reaches metrics-server" "$(k get apiservice v1beta1.metrics.k8s.io -o yaml | tail -12)"; fi

top_node() { top=$(k top node "$node" --no-headers 2>&1) && [[ $top == "$node "* ]]; }
if wait_until 120 top_node; then tap_pass "kubectl top node shows the vk node"
else tap_fail "kubectl top node shows the vk node" "$top" "$(k get --raw /apis/metrics.k8s.io/v1beta1/nodes 2>&1 | head -c 600)"; fi
tap_diag "kubectl top node: $top"
read -r _ ncpu _ nmem _ <<<"$top"
tap_like "$ncpu $nmem" '^[1-9][0-9]*m [1-9][0-9]*Mi$' "... with non-zero CPU (millicores) and memory (Mi)"
# metrics-server gives a pod once it has two scrapes of it (a rate).
top_pod() {
	top=$(k -n "$ns" top pod busy --containers --no-headers 2>&1) &&
		awk '$2 == "spin" { sub("m", "", $3); exit !($3 > 0) }' <<<"$top"
}
if wait_until 120 top_pod; then tap_pass "kubectl top pod --containers shows the busy container spin with non-zero CPU"
else tap_fail "kubectl top pod shows the busy container with non-zero CPU" "$top"; fi
tap_diag "kubectl top pod --containers: $top"
tap_is "$(awk '$2 == "spin" { sub("m", "", $3); print ($3 >= 10) ? "busy" : "idle: " $3 "m" }' <<<"$top")" busy \
	"... and spin, a shell loop, uses at least 10m (it spins a whole core when it gets one)"
tap_done
