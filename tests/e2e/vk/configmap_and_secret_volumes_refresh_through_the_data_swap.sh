#!/usr/bin/env bash
# configMap and secret volumes on mynode follow their objects as kubelet's
# do: a changed value, a new key and a removed key reach the running
# container within the sync period (mynode's volume_sync_ms, 500 ms here),
# through one rename of the `..data` link to a new timestamped folder; a
# key listed in `items` follows too, at its path.  defaultMode and an
# item's mode are the files' modes.  An optional ConfigMap that does not
# exist gives an empty volume and fills when it appears.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/volumes.bash"
tap_plan 12
vk_setup node
mynode_up "volume_sync_ms: 500"

k -n "$ns" create configmap app --from-literal=a=one --from-literal=b=two >/dev/null
k -n "$ns" create secret generic sec --from-literal=p=s1 >/dev/null
cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: cfg, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    volumeMounts:
    - {name: cm, mountPath: /etc/cm}
    - {name: items, mountPath: /etc/items}
    - {name: sec, mountPath: /etc/sec}
    - {name: later, mountPath: /etc/later}
  volumes:
  - {name: cm, configMap: {name: app, defaultMode: 0640}}
  - {name: items, configMap: {name: app, items: [{key: a, path: sub/x, mode: 0600}]}}
  - {name: sec, secret: {secretName: sec, defaultMode: 0400}}
  - {name: later, configMap: {name: later, optional: true}}
YAML
if wait_running cfg; then tap_pass "the pod runs"
else tap_bail "pod cfg not Running: $(k -n "$ns" get pod cfg -o jsonpath='{.status}') $(pod_warnings cfg)"; fi
show() { in_pod cfg main sh -c "cd $1 && for f in \$(ls | sort); do echo \"\$f=\$(cat \$f)\"; done"; }
tap_is "$(show /etc/cm | tr '\n' ' ')" "a=one b=two " "the ConfigMap's keys are files"
tap_is "$(in_pod cfg main cat /etc/items/sub/x)" one "an item at its path"
tap_is "$(in_pod cfg main stat -L -c '%a' /etc/cm/a /etc/items/sub/x /etc/sec/p | tr '\n' ' ')" "640 600 400 " \
	"defaultMode 0640, the item's mode 0600, the Secret's defaultMode 0400"
tap_is "$(in_pod cfg main ls /etc/later)" "" "an optional ConfigMap that is missing gives an empty volume (only ..data and its folder)"

dir=$(vol_dir cfg configmap cm)
data1=$(readlink "$dir/..data")
k -n "$ns" create configmap app --from-literal=a=uno --from-literal=c=three --dry-run=client -o yaml | k replace -f - >/dev/null
k -n "$ns" create secret generic sec --from-literal=p=s2 --dry-run=client -o yaml | k replace -f - >/dev/null
k -n "$ns" create configmap later --from-literal=k=v >/dev/null
cm_new() { [[ $(show /etc/cm | tr '\n' ' ') == "a=uno c=three " ]]; }
if wait_until 30 cm_new; then tap_pass "a changed value, a new key and a removed key reach the container"
else tap_fail "a changed value, a new key and a removed key reach the container" "$(show /etc/cm)" "$(vk_log_tail vk)"; fi
item_new() { [[ $(in_pod cfg main cat /etc/items/sub/x) == uno ]]; }
if wait_until 30 item_new; then tap_pass "the item follows its key"; else tap_fail "the item follows its key"; fi
sec_new() { [[ $(in_pod cfg main cat /etc/sec/p) == s2 ]]; }
if wait_until 30 sec_new; then tap_pass "the Secret's new value reaches the container"; else tap_fail "the Secret's new value reaches the container"; fi
later_new() { [[ $(in_pod cfg main cat /etc/later/k 2>/dev/null) == v ]]; }
if wait_until 30 later_new; then tap_pass "the optional ConfigMap fills its volume once it exists"
else tap_fail "the optional ConfigMap fills its volume once it exists" "$(vk_log_tail vk)"; fi

data2=$(readlink "$dir/..data")
tap_ok "..data now names another timestamped folder ($data1 -> $data2)" test "$data1" != "$data2"
links=$(cd "$dir" && for f in *; do printf '%s->%s ' "$f" "$(readlink "$f")"; done)
tap_is "$links" "a->..data/a c->..data/c " "each visible name links through ..data; b's link is gone"
tap_is "$(cd "$dir" && find . -maxdepth 1 -name '..2*' | wc -l)" 1 "only the current timestamped folder is left"
tap_done
