#!/usr/bin/env bash
# Container environment: env[].valueFrom and envFrom from ConfigMaps and
# Secrets, the downward API (with status.podIP and status.hostIP), resource
# fields, $(VAR) expansion and service links, as kubelet sets them.  A
# missing mandatory ConfigMap keeps the pod Pending with a Warning event and
# is retried when it appears; a missing optional one is no error.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 20
vk_setup node
printf 'record: %s\n' "$tmp/calls.jsonl" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k -n "$ns" create configmap cfg --from-literal=color=blue --from-literal=size=L >/dev/null
k -n "$ns" create secret generic sec --from-literal=password=s3cr3t --from-literal=user=admin >/dev/null
k -n "$ns" create service clusterip svc-a --tcp=8080:80 >/dev/null
svc_ip=$(k -n "$ns" get svc svc-a -o jsonpath='{.spec.clusterIP}')
kube_ip=$(k -n default get svc kubernetes -o jsonpath='{.spec.clusterIP}')

cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: envy, namespace: $ns, labels: {app: envy}, annotations: {team: edge}}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    resources: {limits: {memory: 64Mi, cpu: 500m}}
    envFrom:
    - configMapRef: {name: cfg}
      prefix: CFG_
    - secretRef: {name: sec}
    env:
    - {name: GREETING, value: "hello"}
    - {name: MSG, value: "\$(GREETING) \$(CFG_color) \$(NOPE) \$\$(GREETING)"}
    - name: COLOR
      valueFrom: {configMapKeyRef: {name: cfg, key: color}}
    - name: PASS
      valueFrom: {secretKeyRef: {name: sec, key: password}}
    - name: MAYBE
      valueFrom: {configMapKeyRef: {name: cfg, key: absent, optional: true}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: APP
      valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
    - name: TEAM
      valueFrom: {fieldRef: {fieldPath: "metadata.annotations['team']"}}
    - name: NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: HOST_IP
      valueFrom: {fieldRef: {fieldPath: status.hostIP}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - {name: URL, value: "http://\$(POD_IP):80"}
    - name: MEM_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: CPU_M
      valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
YAML
has_env() { grep -q '"call":"env".*/envy"' "$tmp/calls.jsonl" 2>/dev/null; }
wait_until 20 has_env || tap_bail "create_pod never came: $(tail -5 "$tmp/vk.log")"
envj=$(grep '"call":"env".*/envy"' "$tmp/calls.jsonl" | tail -1 | jq -c '.data.env.main')
e() { jq -r --arg n "$1" '.[$n] // "<unset>"' <<<"$envj"; }
host_ip=$(k get node "$node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
pod_ip=$(k -n "$ns" get pod envy -o jsonpath='{.status.podIP}')
tap_is "$(e CFG_color),$(e CFG_size)" "blue,L" "envFrom a ConfigMap, with its prefix"
tap_is "$(e password),$(e user)" "s3cr3t,admin" "envFrom a Secret, decoded"
tap_is "$(e COLOR)" blue "configMapKeyRef"
tap_is "$(e PASS)" s3cr3t "secretKeyRef"
tap_is "$(e MAYBE)" "<unset>" "a missing optional key is skipped"
# shellcheck disable=SC2016 # the literal $(VAR) text is what kubelet leaves
tap_is "$(e MSG)" 'hello blue $(NOPE) $(GREETING)' "\$(VAR) expansion, undefined kept, \$\$ escapes"
tap_is "$(e POD_NAME)/$(e POD_NS)/$(e NODE)" "envy/$ns/$node" "fieldRef metadata.name, metadata.namespace, spec.nodeName"
tap_is "$(e APP)/$(e TEAM)" "envy/edge" "fieldRef to a label and an annotation"
tap_is "$(e HOST_IP)" "$host_ip" "status.hostIP is the node's InternalIP"
tap_is "$(e POD_IP)" "$pod_ip" "status.podIP is the pod's IP"
tap_is "$(e URL)" "http://$pod_ip:80" "a reference to the pod IP variable is expanded"
tap_is "$(e MEM_MI)/$(e CPU_M)" "64/500" "resourceFieldRef with divisors"
tap_is "$(e SVC_A_SERVICE_HOST):$(e SVC_A_SERVICE_PORT)" "$svc_ip:8080" "service links: NAME_SERVICE_HOST/PORT"
tap_is "$(e SVC_A_PORT_8080_TCP)" "tcp://$svc_ip:8080" "service links: NAME_PORT_P_TCP"
tap_is "$(e KUBERNETES_SERVICE_HOST)" "$kube_ip" "the kubernetes service is always linked"

# A mandatory ConfigMap that does not exist yet.
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: waits, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    env:
    - name: LATER
      valueFrom: {configMapKeyRef: {name: later, key: k}}
YAML
warned() { k -n "$ns" get events --field-selector involvedObject.name=waits,type=Warning -o jsonpath='{.items[*].reason}' | grep -q CreateContainerConfigError; }
if wait_until 15 warned; then tap_pass "a missing mandatory ConfigMap gives a Warning event"; else tap_fail "a missing mandatory ConfigMap gives a Warning event" "$(k -n "$ns" get events)"; fi
tap_like "$(k -n "$ns" get events --field-selector involvedObject.name=waits,type=Warning -o jsonpath='{.items[0].message}')" \
	'configmap "later" not found' "the event says which ConfigMap is missing"
tap_is "$(pod_phase waits)" Pending "the pod stays Pending"
tap_is "$(grep -c '"call":"create_pod".*/waits"' "$tmp/calls.jsonl" || true)" 0 "create_pod is not called while it is missing"
k -n "$ns" create configmap later --from-literal=k=v >/dev/null
if wait_until 20 pod_is waits Running; then tap_pass "once the ConfigMap exists the pod starts"; else tap_fail "once the ConfigMap exists the pod starts" "$(vk_log_tail vk)"; fi
tap_done
