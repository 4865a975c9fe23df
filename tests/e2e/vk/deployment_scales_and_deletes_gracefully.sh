#!/usr/bin/env bash
# A Deployment tolerating the taint reaches 3/3 Running on the vk node,
# scales to 10 and back to 1, and deleting it removes its pods through
# graceful deletion: delete_pod, terminal status, DELETE grace 0 + uid.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 11
vk_setup node
printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

cat <<YAML | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $ns}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/hostname: $node}
      tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
      containers: [{name: web, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}]
YAML
running() { [[ $(k -n "$ns" get pods -l app=web --field-selector=status.phase=Running -o name | wc -l) -eq $1 ]]; }
ready_replicas() { [[ $(k -n "$ns" get deploy web -o jsonpath='{.status.readyReplicas}') == "$1" ]]; }
all() { [[ $(k -n "$ns" get pods -l app=web -o name | wc -l) -eq $1 ]]; }

if wait_until 30 ready_replicas 3; then tap_pass "the Deployment reaches 3/3 ready"; else tap_fail "the Deployment reaches 3/3 ready" "$(k -n "$ns" get pods -o wide)" "$(vk_log_tail vk)"; fi
tap_is "$(k -n "$ns" get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u)" "$node" "its pods run on the vk node"
k -n "$ns" scale deploy web --replicas 10 >/dev/null
if wait_until 40 ready_replicas 10; then tap_pass "scaled to 10, all ready"; else tap_fail "scaled to 10, all ready" "$(k -n "$ns" get pods -o wide)"; fi
k -n "$ns" scale deploy web --replicas 1 >/dev/null
if wait_until 40 all 1 && wait_until 10 ready_replicas 1; then tap_pass "scaled back to 1"; else tap_fail "scaled back to 1" "$(k -n "$ns" get pods -o wide)"; fi

last=$(k -n "$ns" get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
last_uid=$(k -n "$ns" get pods -l app=web -o jsonpath='{.items[0].metadata.uid}')
# Watch the pod's last status before it goes.
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" get pod "$last" --watch -o json >"$tmp/watch.json" 2>/dev/null &
watch_pid=$!
on_exit "kill $watch_pid 2>/dev/null"
# A condition someone else set (a readiness gate's controller) survives
# vk's status writes: conditions merge by type.
k -n "$ns" patch pod "$last" --subresource=status --type=strategic \
	-p '{"status":{"conditions":[{"type":"example.com/gate","status":"True"}]}}' >/dev/null
sleep 1
k -n "$ns" delete deploy web >/dev/null
if wait_until 40 all 0; then tap_pass "deleting the Deployment removes every pod"; else tap_fail "deleting the Deployment removes every pod" "$(k -n "$ns" get pods -o wide)"; fi
kill $watch_pid 2>/dev/null || true
deletes=$(grep -c '"call":"delete_pod"' "$tmp/calls.jsonl" || true)
tap_is "$deletes" 10 "delete_pod was called once for each of the 10 pods"
tap_ok "delete_pod for the last pod carried its uid" grep -q "\"delete_pod\".*\"uid\":\"$last_uid\"" "$tmp/calls.jsonl"
final=$(jq -s -r '[.[] | select(.metadata.deletionTimestamp != null)] | last | .status.containerStatuses[0].state.terminated.reason // "none"' "$tmp/watch.json")
tap_is "$final" ProviderDeleted "the pod got a terminal status before it was removed"
conds=$(jq -s -r '[.[] | select(.metadata.deletionTimestamp != null)] | last | [.status.conditions[] | "\(.type)=\(.status)"] | sort | join(",")' "$tmp/watch.json")
tap_ok "the terminal status says not Ready and keeps the gate's condition ($conds)" \
	bash -c "[[ ',$conds,' == *,ContainersReady=False,* && ',$conds,' == *,Ready=False,* && ',$conds,' == *,example.com/gate=True,* ]]"
# The terminal status write causes a watch event while the DELETE is on its
# way: it must not start a second round of status write and DELETE.
api_deletes=$(grep -c ': deleted from the API (' "$tmp/vk.log" || true)
tap_is "$api_deletes" 10 "vk sent the final DELETE once for each of the 10 pods"
tap_ok "vk logged no failed delete" bash -c "! grep -E 'delete failed|delete_pod failed' '$tmp/vk.log'"
tap_done
