#!/usr/bin/env bash
# Env names under RelaxedEnvironmentVariableValidation (GA in Kubernetes
# 1.34): every printable ASCII character but '=' may be in a name, so a
# ConfigMap's keys such as "data-1", "app.port" or "1st" reach a real
# container through envFrom, with no prefix and with the prefix "my: ", as
# kubelet 1.35 passes them (vk's core used to drop "1st" and the prefixed
# ones).  Read inside the container through the CRI.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 5
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k -n "$ns" create configmap relaxed --from-literal=data-1=one --from-literal=app.port=8080 \
	--from-literal=1st=first --from-literal=PLAIN=plain >/dev/null
k -n "$ns" create secret generic relaxed-sec --from-literal=db-password=s3cr3t >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: relaxed, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: c
    image: $BUSYBOX_IMAGE
    command: [sleep, "3600"]
    envFrom:
    - configMapRef: {name: relaxed}
    - configMapRef: {name: relaxed}
      prefix: "my: "
    - secretRef: {name: relaxed-sec}
YAML
wait_until 60 pod_is relaxed Running || tap_bail "pod not Running: $(k -n "$ns" get pod relaxed -o yaml | tail -20; vk_log_tail vk 10)"
uid=$(k -n "$ns" get pod relaxed -o jsonpath='{.metadata.uid}')
cid=$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --name '^c$' --state Running | head -n 1)
[[ -n $cid ]] || tap_bail "no running container for the pod"
# env(1) prints NAME=VALUE per line; names with '-' or '.' cannot be read as
# shell variables, so the lines are compared as they are.
envs=$(cri exec "$cid" env 2>&1)
has() { grep -qxF "$1" <<<"$envs"; }
if has data-1=one && has app.port=8080; then tap_pass "envFrom keys with '-' and '.' are in the container's env"
else tap_fail "envFrom keys with '-' and '.' are in the container's env" "$envs"; fi
if has 1st=first; then tap_pass "a key starting with a digit is in the env"
else tap_fail "a key starting with a digit is in the env" "$envs"; fi
if has "my: data-1=one" && has "my: app.port=8080" && has "my: PLAIN=plain"; then tap_pass "with a prefix holding ':' and a space too"
else tap_fail "with a prefix holding ':' and a space too" "$envs"; fi
if has db-password=s3cr3t; then tap_pass "a Secret's key with '-' is in the env, decoded"
else tap_fail "a Secret's key with '-' is in the env, decoded" "$envs"; fi
tap_is "$(grep -c 'is not an environment variable name' "$tmp/vk.log" || true)" 0 "vk skipped no key"
tap_done
