#!/usr/bin/env bash
# shellcheck disable=SC2154 # vk_pid, vk2_pid are assigned by name by vk_start_relayed (persist.bash)
# vk started while the API server cannot be reached (the link to it cut),
# with the embedded store and a state key: a pod the store says is wanted
# but the provider lost is created from the stored spec, its env resolved
# from the cached (Secret: sealed) ConfigMap and Secret; the pod the
# provider still runs is not touched; the kubelet API's /pods answers from
# the store.  Secrets are in the store only sealed.  When the link returns
# nothing is created or deleted again.  The second start watches only the
# test's namespace (--namespace): a stored pod of another namespace is left
# alone, neither listed nor deleted.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/persist.bash"
tap_plan 12
vk_setup node
store_relay_start "$node"
port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000))
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port"
pki=$CLUSTER_DIR/pki
head -c 32 /dev/urandom >"$tmp/state.key"
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
vk_args=(--provider-config "$tmp/config.yaml" --state-dir "$tmp/state" --state-key-file "$tmp/state.key"
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" --authorization-mode AlwaysAllow
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key")
vk_start_relayed vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"

ns2=${ns}x
k create namespace "$ns2" >/dev/null || tap_bail "cannot create namespace $ns2"
on_exit "k delete namespace '$ns2' --wait=false >/dev/null 2>&1"
secret_value=s3cr3t-$RANDOM-$RANDOM
k -n "$ns" create configmap cm --from-literal=color=blue >/dev/null
k -n "$ns" create secret generic sec --from-literal=token="$secret_value" >/dev/null
for p in keep lost; do
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $p, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    env:
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: cm, key: color}}}
    - {name: TOKEN, valueFrom: {secretKeyRef: {name: sec, key: token}}}
---
YAML
done | k apply -f - >/dev/null
k -n "$ns2" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: $ns2}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers: [{name: main, image: docker.io/library/busybox:1.35}]
YAML
for p in keep lost; do wait_until 30 pod_is "$p" Running || tap_bail "$p not Running: $(vk_log_tail vk)"; done
other_running() { [[ $(k -n "$ns2" get pod other -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]]; }
wait_until 30 other_running || tap_bail "the pod of $ns2 not Running: $(vk_log_tail vk)"
sleep 2 # the write-behind and the stored resourceVersion catch up
vk_stop "$vk_pid" || tap_bail "vk did not stop cleanly: $(vk_log_tail vk)"
tap_ok "the Secret is not in the store in clear" bash -c "! grep -rqa '$secret_value' '$tmp/state'"

# The provider loses one pod (as a runtime may lose a container); the link is cut.
jq '[.[] | select(.pod.metadata.name != "lost")]' "$tmp/state.json" >"$tmp/state.json.new"
mv "$tmp/state.json.new" "$tmp/state.json"
link_down
: >"$tmp/calls.jsonl"
vk_start_relayed vk2 "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}" --namespace "$ns"
lost_env() { jq -c 'select(.call == "env" and (.data.key | endswith("/lost")))' "$tmp/calls.jsonl" | head -n1; }
created() { [[ -n $(lost_env) ]]; }
if wait_until 30 created; then tap_pass "offline, the pod the provider lost is created from the store"; else tap_fail "offline, the pod the provider lost is created from the store" "$(vk_log_tail vk2)"; fi
env_line=$(lost_env)
tap_is "$(jq -r '.data.env.main.COLOR' <<<"$env_line")" blue "its ConfigMap value comes from the cache"
tap_is "$(jq -r '.data.env.main.TOKEN' <<<"$env_line")" "$secret_value" "its Secret value comes from the (sealed) cache"
tap_is "$(grep -cE '"call":"(create|delete)_pod".*/keep"' "$tmp/calls.jsonl" || true)" 0 "the pod the provider still runs is not touched"
pods=$(curl -s --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/apiserver-kubelet-client.crt" \
	--key "$pki/apiserver-kubelet-client.key" "https://127.0.0.1:$port/pods" | jq -r '.items[].metadata.name' | sort | tr '\n' ' ')
tap_is "$pods" "keep lost " "offline, the kubelet API's /pods lists the pods from the store"

link_up
if wait_until 60 node_is "$node" True; then tap_pass "the node is Ready when the link returns"; else tap_fail "the node is Ready when the link returns" "$(vk_log_tail vk2)"; fi
caught_up() { [[ $(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l) == 2 ]]; }
if wait_until 30 caught_up; then tap_pass "after the link returns both pods are Running"; else tap_fail "after the link returns both pods are Running" "$(k -n "$ns" get pods)"; fi
sleep 3
tap_is "$(grep -cE '"call":"(create|delete)_pod"' "$tmp/calls.jsonl" || true)" 1 "in all, one create (the lost pod) and no delete"
tap_is "$(jq -r '[.[] | select(.pod.metadata.name == "other")] | length' "$tmp/state.json")" 1 \
	"the stored pod of another namespace is still the provider's (--namespace leaves it)"
tap_is "$(k -n "$ns2" get pod other -o jsonpath='{.status.phase}')" Running "and it is still Running in the API"
tap_ok "vk is still running" pid_alive "$vk2_pid"
tap_done
