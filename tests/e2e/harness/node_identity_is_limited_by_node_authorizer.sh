#!/usr/bin/env bash
# A node's kubeconfig from tests/cluster/up.sh carries the identity
# system:node:NODE in system:nodes, and the Node authorizer with the
# NodeRestriction admission plugin limit it as in a production cluster.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/../lib.sh"
tap_plan 5

node=vk-node-a
other=vk-node-b
tmp=""
tmp_dir tmp
cluster_up "$tmp/cluster" "$node" || tap_bail "tests/cluster/up.sh failed"

node_json() { printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s"}}' "$1"; }

tap_is "$(kubectl_as "$node" auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups[0]}')" \
	"system:node:$node system:nodes" "$node.kubeconfig authenticates as system:node:$node in system:nodes"

code=$(curl_as "$node" -o "$tmp/own.json" -w '%{http_code}' -X POST -H 'content-type: application/json' \
	--data "$(node_json "$node")" "$APISERVER/api/v1/nodes")
tap_is "$code" 201 "node $node creates its own Node object"
tap_is "$(kubectl_as admin get node "$node" -o jsonpath='{.metadata.name}')" "$node" "admin sees Node $node"

code=$(curl_as "$node" -o "$tmp/other.json" -w '%{http_code}' -X POST -H 'content-type: application/json' \
	--data "$(node_json "$other")" "$APISERVER/api/v1/nodes")
if [[ $code == 403 ]] && jq -e '.reason == "Forbidden"' "$tmp/other.json" >/dev/null; then
	tap_pass "node $node creating Node $other gets 403 Forbidden"
else
	tap_fail "node $node creating Node $other gets 403 Forbidden" "HTTP $code" "$(cat "$tmp/other.json")"
fi

# The Node authorizer: a node reads only secrets of pods bound to it.
kubectl_as admin create secret generic not-for-nodes -n default --from-literal=k=v >/dev/null
code=$(curl_as "$node" -o /dev/null -w '%{http_code}' "$APISERVER/api/v1/namespaces/default/secrets/not-for-nodes")
tap_is "$code" 403 "node $node cannot read a secret no pod of it uses"
tap_done
