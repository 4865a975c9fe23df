#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: node2 by vk_setup, vk2_pid by vk_start (common.bash)
# Bearer tokens on the kubelet API, as kubelet takes them (metrics-server's
# and Prometheus's way in): vk asks the API server who a token is with a
# TokenReview (under its own node identity, which the Node authorizer
# allows), keeps the answer 2 min, and hands the user and groups to the
# SubjectAccessReview.  A ServiceAccount token with RBAC on nodes/proxy gets
# 200 on /pods, one without gets 403, a made-up token and no credentials
# get 401 (also with --anonymous-auth); /healthz stays open.
# --authentication-token-webhook=false
# turns tokens off (a good token is then 401 too).
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 13
vk_setup node node2

pki=$CLUSTER_DIR/pki
printf 'internal_ip: 127.0.0.1\n' >"$tmp/mock.yaml"
free_port_to port || tap_bail "no free port"
vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" --log-level debug \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
free_port_to port2 || tap_bail "no free port"
vk_start vk2 "$node2" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port2" --client-ca-file "$pki/ca.crt" \
	--anonymous-auth --rotate-server-certificates=false
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
wait_until 10 node_is "$node2" True || tap_bail "node2 not Ready: $(tail -5 "$tmp/vk2.log")"
pod_yaml web "$node" | k apply -f - >/dev/null
wait_until 10 pod_is web Running || tap_bail "pod not Running"

# Two ServiceAccounts: "reader" may get nodes/proxy on this node, "nobody" nothing.
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader, namespace: $ns}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobody, namespace: $ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: $ns-node-proxy}
rules: [{apiGroups: [""], resources: [nodes/proxy], resourceNames: [$node, $node2], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $ns-node-proxy}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $ns-node-proxy}
subjects: [{kind: ServiceAccount, name: reader, namespace: $ns}]
YAML
on_exit "k delete clusterrole,clusterrolebinding '$ns-node-proxy' --wait=false >/dev/null 2>&1"
reader=$(k -n "$ns" create token reader) || tap_bail "no token for reader"
nobody=$(k -n "$ns" create token nobody) || tap_bail "no token for nobody"
# vk keeps a denial 30 s: ask it only once the API server's RBAC says yes.
can_i() {
	[[ $(k create -o jsonpath='{.status.allowed}' -f - 2>/dev/null <<JSON
{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
 "spec": {"user": "system:serviceaccount:$ns:reader", "groups": ["system:serviceaccounts", "system:authenticated"],
  "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "proxy", "name": "$node"}}}
JSON
) == true ]]
}
wait_until 15 can_i || tap_diag "RBAC still says no for reader"

get() { # PORT PATH [CURL ARGS...] -> "BODY CODE"
	local p=$1 path=$2
	shift 2
	curl -s --max-time 10 --cacert "$pki/ca.crt" -w ' %{http_code}' "$@" "https://127.0.0.1:$p$path"
}

body=$(get "$port" /pods -H "Authorization: Bearer $reader")
tap_is "$(jq -r '.items[].metadata.name' <<<"${body% *}" 2>&1) ${body##* }" "web 200" \
	"a ServiceAccount token with RBAC on nodes/proxy gets 200 on /pods, listing the node's pod"
body=$(get "$port" /pods -H "Authorization: bearer $reader")
tap_is "${body##* }" 200 "the scheme is read in any case ('bearer'), and the second request is answered"
tap_is "$(grep -c "GET /pods from system:serviceaccount:$ns:reader (bearer token, cached)" "$tmp/vk.log")" 1 \
	"the second request with the same token is answered from the cache, not a new TokenReview"
tap_is "$(get "$port" /pods -H "Authorization: Bearer $nobody")" \
	"Forbidden (user=system:serviceaccount:$ns:nobody, verb=get, resource=nodes, subresource(s)=[proxy])"$'\n'" 403" \
	"a ServiceAccount token without that RBAC gets 403 naming the user the TokenReview found"
tap_is "$(get "$port" /pods)" "Unauthorized"$'\n'" 401" "no credentials: 401"
tap_is "$(get "$port" /pods -H "Authorization: Bearer not-a-real-token")" "Unauthorized"$'\n'" 401" \
	"a made-up token: 401"
tap_is "$(get "$port" /healthz -H "Authorization: Bearer not-a-real-token")" "ok 200" \
	"/healthz answers whatever the credentials"
body=$(get "$port" "/containerLogs/$ns/web/main" -H "Authorization: Bearer $reader")
tap_is "${body##* }" 200 "the same token reads the pod's logs (nodes/proxy)"
# A client certificate still comes first: the node's own is refused (no nodes/proxy).
body=$(get "$port" /pods --cert "$pki/node-$node.crt" --key "$pki/node-$node.key" -H "Authorization: Bearer $reader")
tap_is "${body##* }" 403 \
	"a client certificate is the user even with a token beside it (as kubelet's x509 authenticator comes first)"

# --anonymous-auth: no credentials is system:anonymous, but a bad token stays 401.
tap_like "$(curl -sk --max-time 10 -w ' %{http_code}' "https://127.0.0.1:$port2/pods")" \
	"^Forbidden \\(user=system:anonymous, .* 403$" "with --anonymous-auth, no credentials is system:anonymous (403 here)"
tap_is "$(curl -sk --max-time 10 -w ' %{http_code}' -H "Authorization: Bearer not-a-real-token" "https://127.0.0.1:$port2/pods")" \
	"Unauthorized"$'\n'" 401" "with --anonymous-auth, a made-up token is still 401, not anonymous (as kubelet)"

# --authentication-token-webhook=false: tokens are not looked at.
vk_stop "$vk2_pid" || tap_diag "vk2 did not stop cleanly"
vk_start vk2 "$node2" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port2" --client-ca-file "$pki/ca.crt" \
	--authentication-token-webhook=false --rotate-server-certificates=false
wait_until 20 curl -sk --max-time 5 "https://127.0.0.1:$port2/healthz" || tap_diag "vk2 does not answer after its restart"
tap_is "$(curl -sk --max-time 10 -w ' %{http_code}' -H "Authorization: Bearer $reader" "https://127.0.0.1:$port2/pods")" \
	"Unauthorized"$'\n'" 401" "with --authentication-token-webhook=false a good token is 401"
tap_like "$(grep -m1 'kubelet API on' "$tmp/vk.log")" "bearer tokens: TokenReview" \
	"vk says at start-up that bearer tokens are checked with TokenReviews"
tap_done
