# The body of store_goes_away_and_is_caught_up_*.sh, run once per store
# backend ($backend: redis or etcd): vk with the mock provider and
# --store, its store server killed (SIGKILL, by PID) in the middle of the
# run and started again on the same port with its data (redis from its
# append-only file, etcd from its data dir; store-up.sh keeps both under
# the test's folder).  vk writes back what it missed while the store was
# down, not what the store itself lost: a redis that came back empty would
# get only those writes (the records of pods untouched during the outage
# stay missing), so the server is restarted with its data.  Asserts:
#   - before: a record in the store for each pod (node/NODE/pod/NS/NAME,
#     holding the pod's uid);
#   - while the store is down: pods created meanwhile go Running in the
#     API, a deleted one goes away, the node stays Ready, vk stays alive,
#     and vk logs exactly one line that the store went away;
#   - after the restart: exactly one line that it is back, and the store
#     caught up: records for every current pod (those created while it was
#     down too), none left for the deleted one;
#   - vk_store_pending_writes counts the writes held while the store is
#     down, and is 0 once it caught up.
# shellcheck shell=bash
# shellcheck disable=SC2154 # backend is set by the sourcing script; vk_pid by vk_start; store_url and the *_PORT by store_start (persist.bash)
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/persist.bash"
store_mock_vk 16 "the store goes away"
went_away() { grep -cE ' store: .*keeping [0-9]+ writes in memory and retrying' "$tmp/vk.log" || true; }
is_back() { grep -cE ' store: .* is back; [0-9]+ pending writes caught up' "$tmp/vk.log" || true; }

for p in a1 a2 a3; do pod_yaml "$p" "$node" | k apply -f - >/dev/null; done
for p in a1 a2 a3; do wait_until 30 pod_is "$p" Running || tap_bail "$p not Running: $(vk_log_tail vk)"; done
if wait_until 30 pods_stored "a1 a2 a3"; then tap_pass "the store holds a record for each pod"; else tap_fail "the store holds a record for each pod" "$(stored_pods)"; fi
tap_ok "a record holds its pod (a1's uid)" record_has_uid a1

# The store server goes away: SIGKILL, by the PID store-up.sh recorded.
store_kill

# While it is down: new pods, and one deleted.
for p in b1 b2; do pod_yaml "$p" "$node" | k apply -f - >/dev/null; done
k -n "$ns" delete pod a2 --wait=false >/dev/null
if wait_until 30 pod_is b1 Running && wait_until 30 pod_is b2 Running; then
	tap_pass "pods created while the store is down go Running"
else
	tap_fail "pods created while the store is down go Running" "b1: $(pod_phase b1), b2: $(pod_phase b2)"
fi
if wait_until 30 pod_gone a2; then tap_pass "a pod deleted while the store is down goes away"; else tap_fail "a pod deleted while the store is down goes away" "$(pod_phase a2)"; fi
noticed() { (($(went_away) >= 1)); }
wait_until 30 noticed || true
tap_is "$(went_away)" 1 "vk logs one line that the store went away"
tap_ok "the node stays Ready" node_is "$node" True
tap_ok "vk stays alive" pid_alive "$vk_pid"
tap_is "$(is_back)" 0 "and does not say the store is back while it is not"
n=$(pending_writes)
tap_ok "vk_store_pending_writes counts the writes kept in memory ($n)" test "${n:-0}" -ge 1

# The store comes back on the same port, with its data.
store_restart
back() { (($(is_back) >= 1)); }
if wait_until 30 back; then tap_pass "vk logs that the store is back"; else tap_fail "vk logs that the store is back" "$(vk_log_tail vk)"; fi
if wait_until 30 pods_stored "a1 a3 b1 b2"; then
	tap_pass "the store caught up: a record for every current pod, none for the deleted one"
else
	tap_fail "the store caught up: a record for every current pod, none for the deleted one" "$(stored_pods)"
fi
tap_ok "a record written after the outage holds its pod (b1's uid)" record_has_uid b1
tap_is "$(store_keys "$pfx" | grep -c "/$ns/a2\$" || true)" 0 "no key of the deleted pod is left (pod or status)"
none_pending() { [[ $(pending_writes) == 0 ]]; }
wait_until 30 none_pending || true
tap_is "$(pending_writes)" 0 "and vk_store_pending_writes is back to 0"
tap_is "$(went_away) $(is_back)" "1 1" "one line each for away and back, all told"
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
