#!/usr/bin/env bash
# providers/cloud.lua's pass-through and refusals, through the real cluster:
#  * a size no rule allows is a Warning Event naming the rule, and no API call;
#  * a spec out of stock falls back to the next of the pod's fallback list;
#  * a DaemonSet's pod is not run: Pending, reason DaemonSetPodSkipped;
#  * ConfigMap and Secret volumes go inline, imagePullSecrets as registry
#    credentials; kubectl logs reads DescribeContainerLog.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/cloud.bash"
tap_plan 10
vk_setup node
cloud_sim_up --schedule-delay 0.3 --start-delay 0.3 --rate-limit 100 --burst 100
sim_set '{"sold_out": ["2-4Gi"]}'
cloud_config ""
port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000))
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port"
pki=$CLUSTER_DIR/pki
cloud_vk_start vk "$node" --listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

sized_pod() { # NAME CPU MEMORY [ANNOTATIONS_YAML]
	cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns, annotations: {${4:-}}}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: main, image: docker.io/library/busybox:1.35, command: [sleep, "3600"], resources: {requests: {cpu: "$2", memory: "$3"}}}
YAML
}
event_of() { # POD REASON -> its message
	k -n "$ns" get events --field-selector "involvedObject.name=$1,reason=$2" -o jsonpath='{.items[0].message}'
}
event_like() { event_of "$1" "$2" | grep -qE "$3"; }

sized_pod huge 100 8Gi
sized_pod exact 1 1Gi '"cloud.vk.io/spec": "7-13Gi"'
if wait_until 30 event_like huge SpecNotAvailable 'rule no-spec-fits: .*100 vCPU'; then tap_pass "100 vCPU: an Event names the rule no-spec-fits"; else tap_fail "100 vCPU: an Event names the rule no-spec-fits" "$(k -n "$ns" get events)"; fi
if wait_until 30 event_like exact SpecNotAvailable 'rule annotation-exact-above-4'; then tap_pass "a 7-13Gi annotation: an Event names the rule annotation-exact-above-4"; else tap_fail "a 7-13Gi annotation: an Event names the rule annotation-exact-above-4" "$(k -n "$ns" get events)"; fi
tap_is "$(k -n "$ns" get pod huge -o jsonpath='{.status.phase}/{.status.reason}')" "Pending/SpecNotAvailable" "the pod waits, reason SpecNotAvailable"
tap_is "$(sim /debug/counts | jq .CreateContainerGroup)" 0 "no create was sent for a size no rule allows"

sized_pod fallback 2 4Gi '"cloud.vk.io/fallback-specs": "4-8Gi"'
if wait_until 30 pod_is fallback Running; then tap_pass "2-4Gi is out of stock: the pod runs on its fallback"; else tap_fail "2-4Gi is out of stock: the pod runs on its fallback" "$(k -n "$ns" get events)"; fi
tap_is "$(k -n "$ns" get pod fallback -o jsonpath='{.metadata.annotations.cloud\.vk\.io/billed-spec}')" "4-8Gi" "the billed spec annotation says 4-8Gi"

cat <<YAML | k apply -f - >/dev/null
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: $ns}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {kubernetes.io/hostname: $node}
      tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
      containers: [{name: agent, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}]
YAML
agent_skipped() { [[ $(k -n "$ns" get pods -l app=agent -o jsonpath='{.items[0].status.reason}') == DaemonSetPodSkipped ]]; }
if wait_until 60 agent_skipped; then tap_pass "the DaemonSet's pod is Pending, reason DaemonSetPodSkipped"; else tap_fail "the DaemonSet's pod is Pending, reason DaemonSetPodSkipped" "$(k -n "$ns" get pods -o wide)"; fi
tap_is "$(sim_live | jq -r '.ContainerGroupName' | grep -c agent || true)" 0 "and it has no instance"

k -n "$ns" create configmap app-config --from-literal=app.conf='color=blue' >/dev/null
k -n "$ns" create secret generic app-secret --from-literal=password='s3cr3t!' >/dev/null
k -n "$ns" create secret docker-registry regcred --docker-server=registry.example.com:5000 \
	--docker-username=alice --docker-password=pw1 >/dev/null
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: configured, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  imagePullSecrets: [{name: regcred}]
  volumes:
  - {name: cfg, configMap: {name: app-config}}
  - {name: sec, secret: {secretName: app-secret}}
  containers:
  - name: main
    image: registry.example.com:5000/app:1
    command: [sleep, "3600"]
    env: [{name: GREETING, value: hello}]
    volumeMounts: [{name: cfg, mountPath: /etc/app}, {name: sec, mountPath: /etc/secret}]
YAML
if wait_until 30 pod_is configured Running; then
	inst=$(sim /debug/instances | jq -c '.Instances[] | select(.ContainerGroupName == "'"$ns"'-configured")')
	files=$(jq -r '.Volumes[] | .Name as $v | .ConfigFileToPaths[] | "\($v)/\(.Path)=\(.Content | @base64d)"' <<<"$inst" | sort | paste -sd' ')
	creds=$(jq -r '.Credentials[] | "\(.Server) \(.UserName) \(.Password)"' <<<"$inst")
	tap_is "$files $creds" "cfg/app.conf=color=blue sec/password=s3cr3t! registry.example.com:5000 alice pw1" \
		"the ConfigMap and Secret went inline, the pull secret as registry credentials"
else
	tap_fail "the ConfigMap and Secret went inline, the pull secret as registry credentials" "$(k -n "$ns" describe pod configured | tail -20)"
fi
logs=$(k -n "$ns" logs configured 2>&1 || true)
tap_like "$logs" 'main: command sleep 3600.*main: env GREETING=hello' "kubectl logs reads the instance's log from the API"
tap_done
