#!/usr/bin/env bash
# The downward API in a real container on mynode, as kubelet gives it:
# env status.podIP/podIPs/hostIP filled once the sandbox has its IP (and
# $(POD_IP) expanded after it); resourceFieldRef requests and limits with
# divisors in env and in a downwardAPI volume, an unset limit being the
# node's allocatable and an unset request 0; a downwardAPI volume with
# metadata.name/namespace/uid, labels and annotations as kubelet formats
# them (sorted key="value" lines), defaultMode and a per-item mode (the API
# server allows only metadata fields in volumes: spec.* and status.* are
# env-only, and tested there); and a
# label change reaching the file through the ..data swap.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/volumes.bash"
tap_plan 15
vk_setup node
mynode_up "volume_sync_ms: 500"

cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata:
  name: dw
  namespace: $ns
  labels: {app: dw, quote: 'say-hi'}
  annotations: {note: 'two "words"'}
spec:
  nodeName: $node
  serviceAccountName: default
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    resources: {requests: {cpu: 250m, memory: 32Mi}, limits: {cpu: 500m, memory: 64Mi}}
    env:
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: POD_IPS
      valueFrom: {fieldRef: {fieldPath: status.podIPs}}
    - name: HOST_IP
      valueFrom: {fieldRef: {fieldPath: status.hostIP}}
    - {name: URL, value: "http://\$(POD_IP):8080/"}
    - name: SA
      valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}
    - name: CPU_REQ_M
      valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}
    - name: MEM_LIM_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: FREE_CPU
      valueFrom: {resourceFieldRef: {containerName: free, resource: limits.cpu}}
    - name: FREE_MEM_MI
      valueFrom: {resourceFieldRef: {containerName: free, resource: limits.memory, divisor: 1Mi}}
    - name: FREE_REQ_CPU
      valueFrom: {resourceFieldRef: {containerName: free, resource: requests.cpu, divisor: 1m}}
    volumeMounts: [{name: info, mountPath: /etc/info}]
  - name: free
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
  volumes:
  - name: info
    downwardAPI:
      defaultMode: 0440
      items:
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: namespace, fieldRef: {fieldPath: metadata.namespace}}
      - {path: uid, fieldRef: {fieldPath: metadata.uid}}
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}, mode: 0600}
      - {path: app/label, fieldRef: {fieldPath: "metadata.labels['app']"}}
      - {path: cpu_limit_m, resourceFieldRef: {containerName: main, resource: limits.cpu, divisor: 1m}}
      - {path: mem_request_mi, resourceFieldRef: {containerName: main, resource: requests.memory, divisor: 1Mi}}
      - {path: free_cpu_limit, resourceFieldRef: {containerName: free, resource: limits.cpu}}
      - {path: free_mem_limit_mi, resourceFieldRef: {containerName: free, resource: limits.memory, divisor: 1Mi}}
      - {path: free_cpu_request, resourceFieldRef: {containerName: free, resource: requests.cpu, divisor: 1m}}
YAML
if wait_running dw; then tap_pass "the pod runs"; else tap_bail "pod dw not Running: $(k -n "$ns" get pod dw -o jsonpath='{.status}') $(vk_log_tail vk)"; fi

pod_ip=$(k -n "$ns" get pod dw -o jsonpath='{.status.podIP}')
host_ip=$(k get node "$node" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
alloc_cpu=$(k get node "$node" -o jsonpath='{.status.allocatable.cpu}')
alloc_mem=$(k get node "$node" -o jsonpath='{.status.allocatable.memory}')
# The node's allocatable in the units asked for: cpu rounded up to cores, memory in Mi (rounded up).
want_cpu=$(awk -v q="$alloc_cpu" 'BEGIN { if (q ~ /m$/) { sub(/m$/, "", q); print int((q + 999) / 1000) } else print int(q + 0.999) }')
want_mem=$(awk -v q="$alloc_mem" 'BEGIN {
	n = q; sub(/[A-Za-z]+$/, "", n); u = substr(q, length(n) + 1)
	f["Ki"] = 1024; f["Mi"] = 1048576; f["Gi"] = 1073741824; f["k"] = 1000; f["M"] = 1e6; f["G"] = 1e9; f[""] = 1
	b = n * f[u]; printf "%d", (b + 1048575) / 1048576 }')
env_of() { in_pod dw main sh -c "echo \"\$$1\""; }
[[ -n $pod_ip ]] || tap_bail "pod dw has no podIP: $(k -n "$ns" get pod dw -o jsonpath='{.status}')"
tap_is "$(env_of POD_IP)/$(env_of POD_IPS)" "$pod_ip/$pod_ip" "env status.podIP and status.podIPs are the pod's IP"
tap_is "$(env_of HOST_IP)" "$host_ip" "env status.hostIP is the node's InternalIP"
tap_is "$(env_of URL)" "http://$pod_ip:8080/" "\$(POD_IP) in a later value is expanded"
tap_is "$(env_of SA)" default "env spec.serviceAccountName"
tap_is "$(env_of CPU_REQ_M)/$(env_of MEM_LIM_MI)" "250/64" "env requests.cpu (1m) and limits.memory (1Mi)"
tap_is "$(env_of FREE_CPU)/$(env_of FREE_MEM_MI)/$(env_of FREE_REQ_CPU)" "$want_cpu/$want_mem/0" \
	"env: a container without limits gets the node's allocatable ($alloc_cpu, $alloc_mem); no request is 0"

vol() { in_pod dw main cat "/etc/info/$1"; }
uid=$(k -n "$ns" get pod dw -o jsonpath='{.metadata.uid}')
tap_is "$(vol name)/$(vol namespace)/$(vol uid)" "dw/$ns/$uid" "volume: metadata.name, namespace and uid"
tap_is "$(vol labels)" 'app="dw"
quote="say-hi"' "volume: metadata.labels as sorted key=\"value\" lines"
tap_is "$(vol annotations)" 'note="two \"words\""' "volume: annotations quoted as Go's %q does"
tap_is "$(vol app/label)" dw "volume: one label, in a sub-folder"
tap_is "$(vol cpu_limit_m)/$(vol mem_request_mi)/$(vol free_cpu_limit)/$(vol free_mem_limit_mi)/$(vol free_cpu_request)" \
	"500/32/$want_cpu/$want_mem/0" "volume: resourceFieldRef with divisors; unset limits are the allocatable"
tap_is "$(in_pod dw main stat -L -c '%a' /etc/info/name /etc/info/annotations | tr '\n' ' ')" "440 600 " \
	"defaultMode 0440 and the item's mode 0600"

dir=$(vol_dir dw downward-api info)
before=$(readlink "$dir/..data")
k -n "$ns" label pod dw color=green >/dev/null
has_color() { in_pod dw main cat /etc/info/labels | grep -qx 'color="green"'; }
if wait_until 30 has_color; then tap_pass "a new label reaches the labels file"
else tap_fail "a new label reaches the labels file" "$(vol labels)" "$(vk_log_tail vk)"; fi
after=$(readlink "$dir/..data")
changed=same
[[ $before == "$after" ]] || changed=changed
tap_like "$changed: $before -> $after, name -> $(readlink "$dir/name"), old folder: $([[ -e $dir/$before ]] && echo kept || echo removed)" \
	'^changed: \.\.[0-9_]+\.[0-9_]+ -> \.\.[0-9_]+\.[0-9_]+, name -> \.\.data/name, old folder: removed$' \
	"the update swapped ..data to a new timestamped folder and removed the old; names link through ..data"
tap_done
