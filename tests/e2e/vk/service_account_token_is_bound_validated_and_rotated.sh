#!/usr/bin/env bash
# Service-account tokens in projected volumes on mynode, as kubelet makes
# them: the token comes from the TokenRequest API bound to the pod (asked
# for under the node's own identity), a TokenReview accepts it as the
# pod's service account and names the pod; the same volume carries the
# cluster's CA (ConfigMap kube-root-ca.crt), a Secret item with its own
# mode and the namespace (downward API); the automatic kube-api-access
# volume gets its token too; in a pod with an fsGroup whose containers all
# run as one user, the token is 0600 (0640 once fsGroup applies), owned by
# that user, readable by it.  Rotation: kubelet renews a token once 80 % of
# its lifetime has passed; 600 s is the API's shortest lifetime, so the
# test moves that point with mynode's token_refresh_fraction (0.02 of
# 600 s = 12 s) instead of waiting 8 minutes, and sees a new, valid token
# replace the old through the ..data swap.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/volumes.bash"
tap_plan 15
vk_setup node
mynode_up "volume_sync_ms: 500
token_refresh_fraction: 0.02"

k -n "$ns" create secret generic extra --from-literal=k=secret-value >/dev/null
wait_until 30 k -n "$ns" get configmap kube-root-ca.crt || tap_bail "no kube-root-ca.crt in $ns"
cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: tok, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    volumeMounts: [{name: short, mountPath: /var/run/short}]
  volumes:
  - name: short
    projected:
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 600}
      - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
      - secret: {name: extra, items: [{key: k, path: sub/k, mode: 0400}]}
      - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
YAML
if wait_running tok; then tap_pass "a pod with a projected token volume runs"
else tap_bail "pod tok not Running: $(k -n "$ns" get pod tok -o jsonpath='{.status}') $(pod_warnings tok) $(vk_log_tail vk)"; fi

# TokenReview as the admin: authenticated, who, and the pod it is bound to.
review() { # TOKEN -> "authenticated user pod-name"
	k create -o json -f - <<JSON | jq -r '[.status.authenticated, .status.user.username,
		(.status.user.extra["authentication.kubernetes.io/pod-name"] // [] | .[0])] | map(tostring) | join(" ")'
{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "$1"}}
JSON
}
# A claim of the JWT's payload, as jq computes it.
claim() { # TOKEN JQ
	local p
	p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while (($(printf %s "$p" | wc -c) % 4)); do p+="="; done
	base64 -d <<<"$p" 2>/dev/null | jq -r "$2"
}
lifetime() { claim "$1" '.exp - .iat'; }
# ..data before the token: whatever version t1 is, it is not older than data1.
dir=$(vol_dir tok projected short)
data1=$(readlink "$dir/..data")
t1=$(in_pod tok main cat /var/run/short/token)
tap_is "$(review "$t1")" "true system:serviceaccount:$ns:default tok" \
	"TokenReview: the token is the pod's service account, bound to pod tok"
tap_is "$(lifetime "$t1")" 600 "the token lives expirationSeconds (600 s)"
auto=$(in_pod tok main cat /var/run/secrets/kubernetes.io/serviceaccount/token)
tap_is "$(review "$auto")" "true system:serviceaccount:$ns:default tok" \
	"the automatic kube-api-access volume has a valid token too"
tap_is "$(in_pod tok main cat /var/run/short/ca.crt)" "$(k -n "$ns" get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}')" \
	"ca.crt is the kube-root-ca.crt ConfigMap's"
tap_is "$(in_pod tok main cat /var/run/short/namespace)/$(in_pod tok main cat /var/run/short/sub/k)" "$ns/secret-value" \
	"the namespace (downward API) and the Secret item are there"
tap_is "$(in_pod tok main stat -L -c '%a' /var/run/short/token /var/run/short/sub/k | tr '\n' ' ')" "644 400 " \
	"the token has the default mode 0644, the Secret item its mode 0400"

cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: nonroot, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  securityContext: {fsGroup: 2000, runAsUser: 1000}
  containers: [{name: main, image: docker.io/library/busybox:1.35, command: [sleep, "3600"]}]
YAML
wait_running nonroot || tap_bail "pod nonroot not Running: $(pod_warnings nonroot)"
sa_dir=/var/run/secrets/kubernetes.io/serviceaccount
tap_is "$(in_pod nonroot main stat -L -c '%a %u %g' $sa_dir/token $sa_dir/ca.crt | tr '\n' ' ')" "640 1000 2000 644 0 2000 " \
	"with fsGroup and one runAsUser: the token is 0640 and the user's, ca.crt 0644 with the group"
tap_is "$(review "$(in_pod nonroot main cat $sa_dir/token)")" "true system:serviceaccount:$ns:default nonroot" \
	"user 1000 reads its pod's token, and it is valid"

rotated() { t2=$(in_pod tok main cat /var/run/short/token) && [[ -n $t2 && $t2 != "$t1" ]]; }
t2=""
if wait_until 60 rotated; then tap_pass "the token is replaced after 2 % of its lifetime (token_refresh_fraction 0.02)"
else tap_fail "the token is replaced after 2 % of its lifetime" "$(vk_log_tail vk)"; fi
tap_is "$(review "$t2")" "true system:serviceaccount:$ns:default tok" "the new token is valid"
# Not renewed before its time: 2 % of 600 s after the first was issued (a
# lower bound, which a slow machine cannot break).
gap=$(($(claim "$t2" .iat) - $(claim "$t1" .iat)))
tap_ok "the new token was issued no sooner than 12 s after the first ($gap s)" test "$gap" -ge 12
data2=$(readlink "$dir/..data")
tap_ok "the new token came through a ..data swap ($data1 -> $data2)" test "$data1" != "$data2" -a -L "$dir/token"
tap_is "$(readlink "$dir/token")" "..data/token" "the token file links through ..data"
requests=$(grep -c 'volume short updated' "$tmp/vk.log" || true)
tap_ok "vk logged the update ($requests so far)" test "$requests" -ge 1
tap_done
