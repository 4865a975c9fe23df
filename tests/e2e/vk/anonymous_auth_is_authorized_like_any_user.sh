#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: node2 by vk_setup (common.bash)
# --anonymous-auth, as kubelet has it: a kubelet API request without a
# client certificate is system:anonymous (group system:unauthenticated) and
# is authorized like any other user.  With Webhook authorization the API
# server's SubjectAccessReview decides (403 until RBAC grants it); with
# AlwaysAllow it is served, and vk says once at start-up that its API is
# open.  Without the flag it stays 401.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 8
vk_setup node node2

pki=$CLUSTER_DIR/pki
printf 'internal_ip: 127.0.0.1\n' >"$tmp/mock.yaml"
tls=(--client-ca-file "$pki/ca.crt")
free_port_to port || tap_bail "no free port"
vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port" "${tls[@]}" --anonymous-auth
free_port_to port2 || tap_bail "no free port"
vk_start vk2 "$node2" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port2" "${tls[@]}" --anonymous-auth=true --authorization-mode AlwaysAllow
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
wait_until 10 node_is "$node2" True || tap_bail "node2 not Ready: $(tail -5 "$tmp/vk2.log")"
pod_yaml web "$node" | k apply -f - >/dev/null
pod_yaml web2 "$node2" | k apply -f - >/dev/null
wait_until 10 pod_is web Running || tap_bail "pod not Running"
wait_until 10 pod_is web2 Running || tap_bail "pod2 not Running"

anon() { # PORT PATH -> "BODY CODE"
	curl -sk --max-time 10 -w ' %{http_code}' "https://127.0.0.1:$1$2"
}

# Webhook: the SubjectAccessReview for system:anonymous says no ...
tap_is "$(anon "$port" /pods)" \
	"Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[proxy])"$'\n'" 403" \
	"Webhook: an anonymous /pods is system:anonymous and refused with 403 by the SubjectAccessReview"
# ... until RBAC grants it nodes/stats on this node.
cat <<YAML | k apply -f - >/dev/null
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: $ns-anon-stats}
rules: [{apiGroups: [""], resources: [nodes/stats], resourceNames: [$node], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $ns-anon-stats}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $ns-anon-stats}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: system:anonymous}]
YAML
on_exit "k delete clusterrole,clusterrolebinding '$ns-anon-stats' --wait=false >/dev/null 2>&1"
# vk caches a denial for 30 s: ask it only once the API server's RBAC says yes.
can_i() { # the SubjectAccessReview vk asks, asked by admin
	[[ $(k create -o jsonpath='{.status.allowed}' -f - 2>/dev/null <<JSON
{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
 "spec": {"user": "system:anonymous", "groups": ["system:unauthenticated"],
  "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "stats", "name": "$node"}}}
JSON
) == true ]]
}
wait_until 15 can_i || tap_diag "RBAC still says no for system:anonymous"
body=$(anon "$port" /stats/summary)
tap_is "$(jq -r '.node.nodeName' <<<"${body% *}" 2>&1) ${body##* }" "$node 200" \
	"Webhook: once RBAC grants system:anonymous nodes/stats, an anonymous /stats/summary is served"
tap_like "$(anon "$port" /pods)" " 403$" "Webhook: ... and /pods (nodes/proxy) is still refused"
tap_is "$(grep -c 'anonymous-auth' "$tmp/vk.log")" 0 "Webhook: no warning about an open API"

# AlwaysAllow: served, and one warning line at start-up.
body=$(anon "$port2" /pods)
tap_is "$(jq -r '.items[].metadata.name' <<<"${body% *}" 2>&1) ${body##* }" "web2 200" \
	"AlwaysAllow: an anonymous /pods lists the node's pod"
tap_like "$(anon "$port2" /containerLogs/"$ns"/web2/main)" " 200$" "AlwaysAllow: anonymous container logs are served"
tap_is "$(grep -c 'WARN .*--anonymous-auth with --authorization-mode AlwaysAllow' "$tmp/vk2.log")" 1 \
	"AlwaysAllow: exactly one warning line says the API is open"
tap_is "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 10 --cert "$pki/node-$node.crt" --key "$pki/node-$node.key" \
	"https://127.0.0.1:$port/pods")" 403 "a client certificate is still its own user, not anonymous"
tap_done
