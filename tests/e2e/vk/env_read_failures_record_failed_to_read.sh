#!/usr/bin/env bash
# virtual-kubelet's FailedToRead* Events: a ConfigMap or Secret that vk may
# not read (403, not a 404) is recorded with FailedToReadMandatory* or
# FailedToReadOptional* and virtual-kubelet's message, beside kubelet's
# CreateContainerConfigError, once the quiet retries (the Node authorizer
# catching up) are over.  vk runs here as a ServiceAccount that has the
# rules of system:node except ConfigMaps and Secrets, so every such read is
# refused by RBAC.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 6
vk_setup node

role=$ns-vk-no-secrets
k -n "$ns" create serviceaccount vk >/dev/null
k get clusterrole system:node -o json | jq --arg n "$role" '{apiVersion, kind, metadata: {name: $n},
	rules: [.rules[] | .resources = ((.resources // []) - ["configmaps", "secrets"])
		| select((.resources | length) > 0 or .nonResourceURLs)]}' | k apply -f - >/dev/null
on_exit "k delete clusterrole '$role' clusterrolebinding '$role' --wait=false >/dev/null 2>&1"
k create clusterrolebinding "$role" --clusterrole "$role" --serviceaccount "$ns:vk" >/dev/null
token=$(k -n "$ns" create token vk --duration 1h)
k config view --raw --minify --kubeconfig "$CLUSTER_DIR/$node.kubeconfig" -o json |
	jq --arg t "$token" '.users = [{name: "vk", user: {token: $t}}] | .contexts[0].context.user = "vk"' \
		>"$tmp/sa.kubeconfig"

printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml" \
	--kubeconfig "$tmp/sa.kubeconfig"
wait_until 15 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
k -n "$ns" create configmap cfg --from-literal=color=blue >/dev/null
k -n "$ns" create secret generic sec --from-literal=user=admin >/dev/null
tap_like "$(k -n "$ns" get configmap cfg --as "system:serviceaccount:$ns:vk" 2>&1)" "[Ff]orbidden" \
	"vk's identity may not read the ConfigMap (the failure is a 403, not a 404)"

events() { # POD REASON
	k -n "$ns" get events --field-selector "involvedObject.name=$1,reason=$2" \
		-o jsonpath='{range .items[*]}{.type} {.message}{"\n"}{end}' 2>/dev/null | sort -u
}
has_event() { [[ -n $(events "$1" "$2") ]]; }

env_pod m-read '    envFrom:
    - configMapRef: {name: cfg}
    env:
    - name: S
      valueFrom: {secretKeyRef: {name: sec, key: user}}'
env_pod o-read '    envFrom:
    - secretRef: {name: sec, optional: true}
    env:
    - name: C
      valueFrom: {configMapKeyRef: {name: cfg, key: color, optional: true}}'

# Events go out asynchronously (rate-limited, behind status writes): wait for each.
for r in FailedToReadMandatoryConfigMap FailedToReadMandatorySecret CreateContainerConfigError; do
	wait_until 30 has_event m-read "$r" || true
done
tap_is "$(events m-read FailedToReadMandatoryConfigMap)" 'Warning failed to read configmap "cfg"' \
	"FailedToReadMandatoryConfigMap for envFrom"
tap_is "$(events m-read FailedToReadMandatorySecret)" 'Warning failed to read secret "sec"' \
	"FailedToReadMandatorySecret for env"
for r in FailedToReadOptionalSecret FailedToReadOptionalConfigMap; do
	wait_until 30 has_event o-read "$r" || true
done
tap_is "$(events o-read FailedToReadOptionalSecret)" 'Warning failed to read secret "sec"' \
	"FailedToReadOptionalSecret for envFrom"
tap_is "$(events o-read FailedToReadOptionalConfigMap)" \
	'Warning skipping optional envvar "C": failed to read configmap "cfg"' \
	"FailedToReadOptionalConfigMap for env names the variable"
tap_like "$(events m-read CreateContainerConfigError)" "^Warning reading /api/v1/namespaces/$ns/(configmaps/cfg|secrets/sec) failed \\(HTTP 403\\)" \
	"kubelet's CreateContainerConfigError beside them"
tap_done
