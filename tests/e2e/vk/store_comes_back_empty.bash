# The body of store_that_comes_back_empty_is_refilled_*.sh, run once per
# store backend ($backend: redis or etcd).  A store server that restarts
# without its data (a redis without persistence, an etcd rebuilt) would
# otherwise hold only what is written after it came back: the records of
# pods untouched since then would stay missing, and a vk restarted while
# the API server is unreachable would not know those pods.  vk with the mock
# provider and --store; the store server is killed (SIGKILL, by PID), its
# data folder removed, and started again empty on the same port.  Asserts:
#   - before: a record for each pod and for the ConfigMap its env reads;
#   - after: vk logs one line that the store lost what it held, and the
#     store holds again a record of each pod (with its uid), the pod
#     informer's resourceVersion, the node, the API server's name and the
#     ConfigMap;
#   - vk stays alive, the node Ready, and no pod is touched.
# shellcheck shell=bash
# shellcheck disable=SC2154 # backend is set by the sourcing script; vk_pid by vk_start; REDIS_PORT/STORE_ETCD_PORT by store.env
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/persist.bash"
store_mock_vk 10 "the store comes back empty"
lost_lines() { grep -cE ' pod: the store .* lost what it held for this node' "$tmp/vk.log" || true; }

k -n "$ns" create configmap settings --from-literal=mode=edge >/dev/null
env_pod c1 "    env: [{name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}]"
for p in a1 a2; do pod_yaml "$p" "$node" | k apply -f - >/dev/null; done
for p in a1 a2 c1; do wait_until 30 pod_is "$p" Running || tap_bail "$p not Running: $(vk_log_tail vk)"; done
cm_key="${pfx}obj//api/v1/namespaces/$ns/configmaps/settings"
has_key() { store_keys "$pfx" | grep -qxF "$1"; }
if wait_until 30 pods_stored "a1 a2 c1" && wait_until 30 has_key "$cm_key"; then
	tap_pass "before: the store holds each pod and the ConfigMap"
else
	tap_fail "before: the store holds each pod and the ConfigMap" "$(store_keys "$pfx")"
fi
uids_before=$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.uid}{" "}{end}')

# The store server dies and comes back with nothing.
store_kill
store_wipe
store_restart
# It came back empty: no pod record, or vk has seen the loss already (it
# checks every 10 s, and may have refilled the store before this looks).
noticed() { (($(lost_lines) >= 1)); }
came_back_empty() { [[ -z $(store_keys "${pfx}pod/") ]] || noticed; }
wait_until 30 came_back_empty || tap_bail "the $backend server came back with pod records, and vk saw no loss: not empty"

if wait_until 60 noticed; then tap_pass "vk notices the store lost its records"; else tap_fail "vk notices the store lost its records" "$(vk_log_tail vk)"; fi
if wait_until 30 pods_stored "a1 a2 c1"; then
	tap_pass "the store holds a record of each pod again"
else
	tap_fail "the store holds a record of each pod again" "$(store_keys "$pfx")"
fi
tap_ok "a refilled record holds its pod (a1's uid)" record_has_uid a1
for key in rv/pods node meta/server; do
	if wait_until 30 has_key "$pfx$key"; then tap_pass "the store holds $key again"; else tap_fail "the store holds $key again" "$(store_keys "$pfx")"; fi
done
if wait_until 30 has_key "$cm_key"; then tap_pass "the store holds the ConfigMap again"; else tap_fail "the store holds the ConfigMap again" "$(store_keys "$pfx")"; fi
tap_is "$(lost_lines)" 1 "one line that the store lost what it held"
uids_after=$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.uid}{" "}{end}')
if [[ $uids_after == "$uids_before" ]] && pid_alive "$vk_pid" && node_is "$node" True; then
	tap_pass "vk stays alive, the node Ready, and no pod is replaced"
else
	tap_fail "vk stays alive, the node Ready, and no pod is replaced" "uids $uids_before -> $uids_after; node $(node_ready "$node")"
fi
tap_done
