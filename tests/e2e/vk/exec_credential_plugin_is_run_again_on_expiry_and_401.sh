#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# A kubeconfig whose user is an exec credential plugin
# (client.authentication.k8s.io/v1), as EKS or GKE hand out: a small script
# prints an ExecCredential holding a real ServiceAccount token (bound to a
# Secret, with the system:node ClusterRole).  vk registers the node with it;
# while the credential expires every few seconds the plugin runs again and
# the node stays Ready; when the API server answers 401 (the token's Secret
# is deleted) the plugin runs again at once and vk goes on with the new token.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 11
vk_setup node

k -n "$ns" create serviceaccount vk-node >/dev/null
k create clusterrolebinding "$ns-vk-node" --clusterrole system:node --serviceaccount "$ns:vk-node" >/dev/null
on_exit "k delete clusterrolebinding '$ns-vk-node' >/dev/null 2>&1"
new_token() { # SECRET: a token that dies with the Secret
	k -n "$ns" create secret generic "$1" >/dev/null
	k -n "$ns" create token vk-node --duration 1h --bound-object-kind Secret --bound-object-name "$1"
}
new_token s1 >"$tmp/token"
echo 8 >"$tmp/ttl"

cat >"$tmp/plugin.sh" <<'SH'
#!/bin/sh
# An exec credential plugin: the token in $TOKEN_FILE, valid $(cat $TTL_FILE) s.
echo run >>"$RUNS_FILE"
echo "${GNUTLS_NO_IMPLICIT_INIT-unset}" >"$INFO_FILE.gnutls"
printf '%s\n' "$KUBERNETES_EXEC_INFO" >"$INFO_FILE"
exp=$(date -u -d "+$(cat "$TTL_FILE") seconds" +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' \
	"$(cat "$TOKEN_FILE")" "$exp"
SH
chmod +x "$tmp/plugin.sh"
server=$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')
cat >"$tmp/exec.kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: x
clusters:
- name: c
  cluster: {server: "$server", certificate-authority: "$CLUSTER_DIR/pki/ca.crt"}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin.sh
      args: []
      env:
      - {name: TOKEN_FILE, value: "$tmp/token"}
      - {name: TTL_FILE, value: "$tmp/ttl"}
      - {name: RUNS_FILE, value: "$tmp/runs"}
      - {name: INFO_FILE, value: "$tmp/info.json"}
      interactiveMode: Never
      provideClusterInfo: true
contexts:
- name: x
  context: {cluster: c, user: u}
YAML
runs() { [[ -f $tmp/runs ]] && wc -l <"$tmp/runs" || echo 0; }
runs_at_least() { (($(runs) >= $1)); }

# As an older vk@.service started it: vk unsets the variable for what it starts.
GNUTLS_NO_IMPLICIT_INIT=1 VK_KUBECONFIG=$tmp/exec.kubeconfig vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --store none --os Windows
wait_until 30 node_is "$node" True || tap_bail "node not Ready with the exec plugin's token"
tap_pass "the node registers with the token an exec credential plugin printed"
tap_is "$(k get node "$node" -o jsonpath='{.metadata.labels.kubernetes\.io/os} {.status.nodeInfo.operatingSystem}')" \
	"windows windows" "--os Windows (virtual-kubelet's spelling) is the node's kubernetes.io/os and operatingSystem"
tap_is "$(jq -r '.kind + " " + .apiVersion + " " + (.spec.interactive | tostring) + " " + .spec.cluster.server' "$tmp/info.json")" \
	"ExecCredential client.authentication.k8s.io/v1 false $server" \
	"the plugin gets KUBERNETES_EXEC_INFO with the cluster (provideClusterInfo)"
tap_is "$(cat "$tmp/info.json.gnutls")" unset \
	"the plugin does not inherit GNUTLS_NO_IMPLICIT_INIT, which older units set for vk alone"

# The credential expires 8 s after each run (renewed 5 s before): it runs again.
r0=$(runs)
wait_until 60 runs_at_least $((r0 + 2)) || true
r1=$(runs)
tap_ok "the plugin runs again as its credentials expire ($r0 -> $r1 runs)" test "$r1" -ge $((r0 + 2))
lease_time() { k -n kube-node-lease get lease "$node" -o jsonpath='{.spec.renewTime}'; }
t0=$(lease_time)
renewed_since() { [[ $(lease_time) != "$1" ]]; }
wait_until 30 renewed_since "$t0"
tap_is "$(node_ready "$node")" True "the node stays Ready meanwhile"

# A long-lived credential, then the API server refuses it: 401.
echo 3600 >"$tmp/ttl"
r2=$(runs)
wait_until 30 runs_at_least $((r2 + 1)) || true
sleep 1
r3=$(runs)
new_token s2 >"$tmp/token"
k -n "$ns" delete secret s1 >/dev/null
wait_until 60 grep -q 'answered 401' "$tmp/vk.log" || true
tap_like "$(grep -m1 'answered 401' "$tmp/vk.log")" "running the exec credential plugin .*plugin.sh again" \
	"a 401 to the refused token is seen"
wait_until 30 runs_at_least $((r3 + 1)) || true
tap_ok "and the plugin runs again ($r3 -> $(runs) runs)" test "$(runs)" -gt "$r3"
t1=$(lease_time)
wait_until 30 renewed_since "$t1"
tap_ok "the lease is renewed with the new token" renewed_since "$t1"
pod_yaml web "$node" | k apply -f - >/dev/null
tap_ok "and a pod is created and Running through it" wait_until 30 pod_is web Running
vk_stop "$vk_pid" && rc=0 || rc=$?
tap_is "$rc" 0 "vk stops cleanly"
tap_done
