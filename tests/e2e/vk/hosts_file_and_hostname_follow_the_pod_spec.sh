#!/usr/bin/env bash
# The pod's /etc/hosts and hostname as kubelet 1.35 makes them: the managed
# file (header, localhost lines, the pod IP with its FQDN and hostname when a
# subdomain is set, then the hostAliases) bind-mounted into every container;
# the sandbox's hostname from spec.hostname (the FQDN with
# setHostnameAsFQDN), else the pod's name; a container that mounts its own
# /etc/hosts keeps it; a hostNetwork pod gets the node's hosts file under the
# "(host network)" header, with its aliases.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 9
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

k -n "$ns" create configmap own-hosts --from-literal=hosts='10.9.9.9 mine' >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: named, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  hostname: web
  subdomain: front
  setHostnameAsFQDN: true
  hostAliases:
  - {ip: 10.1.2.3, hostnames: [foo.local, bar.local]}
  - {ip: 10.1.2.4, hostnames: [baz.local]}
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
  - name: own
    image: $BUSYBOX_IMAGE
    command: [sleep, "3600"]
    volumeMounts: [{name: h, mountPath: /etc/hosts, subPath: hosts}]
  volumes: [{name: h, configMap: {name: own-hosts}}]
---
apiVersion: v1
kind: Pod
metadata: {name: plain-pod-name, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  hostNetwork: true
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  hostAliases:
  - {ip: 10.1.2.5, hostnames: [hn.local]}
  containers:
  - {name: c, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
YAML
for p in named plain-pod-name hostnet; do
	wait_until 60 pod_is "$p" Running || tap_bail "$p not Running: $(k -n "$ns" get pod "$p" -o yaml | tail -20; vk_log_tail vk 10)"
done
cid_of() { # POD CONTAINER
	local uid
	uid=$(k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}')
	cri ps -q --label "io.kubernetes.pod.uid=$uid" --name "^$2\$" --state Running | head -n 1
}
ip=$(k -n "$ns" get pod named -o jsonpath='{.status.podIP}')
[[ -n $ip ]] || tap_bail "the pod has no IP"
c=$(cid_of named c)
want=$(printf '%s\n' "# Kubernetes-managed hosts file." \
	"127.0.0.1	localhost" "::1	localhost ip6-localhost ip6-loopback" "fe00::0	ip6-localnet" \
	"fe00::0	ip6-mcastprefix" "fe00::1	ip6-allnodes" "fe00::2	ip6-allrouters" \
	"$ip	web.front.$ns.svc.cluster.local	web" "" "# Entries added by HostAliases." \
	"10.1.2.3	foo.local	bar.local" "10.1.2.4	baz.local")
tap_is "$(cri exec "$c" cat /etc/hosts 2>&1)" "$want" \
	"/etc/hosts is kubelet's managed file: pod IP with FQDN and hostname, then the aliases"
tap_is "$(cri exec "$c" hostname 2>&1)" "web.front.$ns.svc.cluster.local" \
	"setHostnameAsFQDN: the hostname is the FQDN"
# The container writes to it (kubelet mounts it read-write): the node's
# file in the pod's folder sees the line.
cri exec "$c" sh -c 'echo "10.7.7.7 added" >>/etc/hosts' >/dev/null 2>&1 || true
uid=$(k -n "$ns" get pod named -o jsonpath='{.metadata.uid}')
tap_is "$(tail -n 1 "$tmp/pods/$uid/etc-hosts" 2>&1)" "10.7.7.7 added" \
	"it is the pod's file on the node (pod_root/UID/etc-hosts), mounted read-write"
tap_is "$(cri exec "$(cid_of named own)" cat /etc/hosts 2>&1)" "10.9.9.9 mine" \
	"a container mounting its own /etc/hosts keeps it"
tap_is "$(cri exec "$(cid_of named own)" hostname 2>&1)" "web.front.$ns.svc.cluster.local" \
	"every container of the pod shares the hostname"

p=$(cid_of plain-pod-name c)
pip=$(k -n "$ns" get pod plain-pod-name -o jsonpath='{.status.podIP}')
tap_is "$(cri exec "$p" hostname 2>&1)" "plain-pod-name" "without spec.hostname the hostname is the pod's name"
tap_is "$(cri exec "$p" tail -n 1 /etc/hosts 2>&1)" "$pip	plain-pod-name" "its hosts file maps the pod IP to it"

h=$(cid_of hostnet c)
got=$(cri exec "$h" cat /etc/hosts 2>&1)
tap_is "$(head -n 1 <<<"$got")" "# Kubernetes-managed hosts file (host network)." "a hostNetwork pod: the host network header"
node_hosts=$(cat /etc/hosts)
want=$(printf '%s\n%s\n\n# Entries added by HostAliases.\n10.1.2.5\thn.local' "# Kubernetes-managed hosts file (host network)." "$node_hosts")
tap_is "$got" "$want" "then the node's /etc/hosts and the aliases"
tap_done
