#!/usr/bin/env bash
# Lists the pod creates, deletes and evictions in an API audit log written by
# up.sh with VK_AUDIT=1, one request a line:
#
#   tests/cluster/audit-pods.sh DIR/logs/audit.log [NAMESPACE]
#
#   USER VERB RESOURCE NAMESPACE/NAME CODE
#   system:node:n1 delete pods t1234/web-0 200
#
# RESOURCE is "pods" or "pods/eviction"; a create's NAME is "-" when the
# client let the server generate it.  Count with grep/awk, e.g. the deletes
# by a node:  ... | awk '$1 == "system:node:n1" && $2 == "delete"' | wc -l
set -euo pipefail
(($# >= 1 && $# <= 2)) || { echo "usage: $0 AUDIT_LOG [NAMESPACE]" >&2; exit 2; }
[[ -r $1 ]] || { echo "$0: $1: no such audit log (start up.sh with VK_AUDIT=1)" >&2; exit 1; }
jq -r --arg ns "${2:-}" '
	select(.stage == "ResponseComplete" and .objectRef.resource == "pods")
	| select($ns == "" or .objectRef.namespace == $ns)
	| [.user.username, .verb,
	   (.objectRef.resource + (if .objectRef.subresource then "/" + .objectRef.subresource else "" end)),
	   ((.objectRef.namespace // "-") + "/" + (.objectRef.name // "-")),
	   (.responseStatus.code // 0 | tostring)]
	| join(" ")' "$1"
