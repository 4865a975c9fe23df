#!/usr/bin/env bash
# providers/cloud.lua against the cloud simulator: a Deployment of 50 pods
# becomes 50 instances of the sizes the spec table gives (two kinds of pod:
# 7 vCPU / 13 GiB rounds up to 8 / 14, 250m / 300Mi to 0.25 / 0.5), each
# tagged with the pod's identity and annotated with its spec and price; the
# poller batches Describe calls; scaling down to 20 deletes exactly the 30
# instances of the deleted pods.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/cloud.bash"
tap_plan 12
vk_setup node
cloud_sim_up --schedule-delay 1 --start-delay 1 --rate-limit 100 --burst 100 --quota-cpu 900 --quota-instances 500
cloud_config ""
cloud_vk_start vk "$node"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

cap=$(k get node "$node" -o jsonpath='{.status.capacity.cpu}/{.status.capacity.memory}/{.status.capacity.pods}')
tap_is "$cap" "900/4000Gi/500" "the node's capacity is the account's quota"

deployment() { # NAME REPLICAS CPU MEMORY
	cat <<YAML | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $ns}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      nodeSelector: {kubernetes.io/hostname: $node}
      tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
      containers:
      - name: app
        image: docker.io/library/busybox:1.35
        command: [sleep, "3600"]
        resources: {requests: {cpu: "$3", memory: "$4"}}
YAML
}
deployment big 5 7 13Gi
deployment small 45 250m 300Mi
running() { [[ $(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l) -eq $1 ]]; }
if wait_until 120 running 50; then tap_pass "50 pods Running"; else tap_fail "50 pods Running" "$(k -n "$ns" get pods | tail -20)"; fi

tap_is "$(sim_live | wc -l)" 50 "the cloud has 50 instances"
tap_is "$(sim_live | jq -r '.Spec' | sort | uniq -c | awk '{print $2 "x" $1}' | sort | paste -sd,)" \
	"0.25-0.5Gix45,8-14Gix5" "45 instances of 0.25-0.5Gi and 5 of 8-14Gi"
# every pod's uid is on exactly one instance
uids_api=$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}' | sort)
uids_cloud=$(sim_live | jq -r '.Tags[] | select(.Key == "vk.io/pod-uid") | .Value' | sort)
tap_is "$uids_cloud" "$uids_api" "each pod's uid tags exactly one instance"
tap_is "$(sim_live | jq -r '[.Tags[] | select(.Key == "vk.io/node" or .Key == "vk.io/cluster") | .Value] | join(",")' | sort -u)" \
	"$ns,$node" "every instance carries the cluster and node tags"
one=$(k -n "$ns" get pods -l app=big -o jsonpath='{.items[0].metadata.name}')
ann=$(k -n "$ns" get pod "$one" -o jsonpath='{.metadata.annotations.cloud\.vk\.io/billed-spec} {.metadata.annotations.cloud\.vk\.io/price-per-hour}')
tap_like "$ann" '^8-14Gi 0\.4246$' "the pod is annotated with its billed spec and price ($ann)"
tap_like "$(k -n "$ns" get events --field-selector "involvedObject.name=$one,reason=InstanceCreated" -o jsonpath='{.items[0].message}')" \
	'instance eci-[0-9a-f]+, spec 8-14Gi' "an Event names the instance and its spec"

# Steady state: the poller describes the 50 instances in batches.
c0=$(sim /debug/counts | jq '.DescribeContainerGroups')
i0=$(sim /debug/counts | jq '.described_ids')
sleep 35
c1=$(sim /debug/counts | jq '.DescribeContainerGroups')
i1=$(sim /debug/counts | jq '.described_ids')
calls=$((c1 - c0)) ids=$((i1 - i0))
tap_ok "in 35 s of steady state, the 50 pods cost few Describe calls ($calls calls for $ids descriptions)" \
	bash -c "((${calls} <= 6 && ${ids} >= 50))"

# Scale down: exactly the deleted pods' instances go.
k -n "$ns" scale deploy small --replicas 15 >/dev/null
all() { [[ $(k -n "$ns" get pods -o name | wc -l) -eq $1 ]]; }
live() { [[ $(sim_live | wc -l) -eq $1 ]]; }
if wait_until 60 all 20 && wait_until 30 live 20; then tap_pass "scaled to 20: 20 instances left"; else tap_fail "scaled to 20: 20 instances left" "$(sim_live | wc -l)"; fi
uids_api=$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}' | sort)
uids_cloud=$(sim_live | jq -r '.Tags[] | select(.Key == "vk.io/pod-uid") | .Value' | sort)
tap_is "$uids_cloud" "$uids_api" "the instances left are exactly those of the pods left"
tap_is "$(sim /debug/counts | jq '.created')" 50 "no instance was created twice (50 creations)"
tap_done
