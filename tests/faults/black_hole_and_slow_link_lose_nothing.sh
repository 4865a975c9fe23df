#!/usr/bin/env bash
# shellcheck disable=SC2154 # link_pid, link_port are assigned by name (printf -v)
# vk-test-timeout: 1500
# Both vk reach the API server through a relay (tests/cluster/relay.py).
# First a black hole: the relay frozen for 30 s (the kernel accepts,
# nothing answers) while pods are deleted and created on both nodes; then a
# slow link: every chunk of bytes held 500 ms each way, for as long as the
# next round of deletes and creates takes to settle.  After each, every pod
# kept runs once, on one sandbox, none is lost, the deleted are gone from
# the providers, and the nodes are Ready with a live Lease; after the
# deletes nothing is left.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
tap_plan 14
faults_prepare
relay_start link || tap_bail "the relay did not start"
relay_kubeconfig "$node" "$link_port" "$tmp/vk-relay.kubeconfig" || tap_bail "no relay kubeconfig"
relay_kubeconfig "$nodem" "$link_port" "$tmp/vkm-relay.kubeconfig" || tap_bail "no relay kubeconfig"
VK_KUBECONFIG=$tmp/vk-relay.kubeconfig VKM_KUBECONFIG=$tmp/vkm-relay.kubeconfig faults_start

pods_yaml "$node" $(seq -f 'c%g' 1 10) | k_retry -n "$ns" apply -f -
pods_yaml "$nodem" $(seq -f 'm%g' 1 200) | k_retry -n "$ns" apply -f -
wait_until 300 all_running "$node" 10 || tap_bail "the 10 mynode pods are not Running"
wait_until 300 all_running "$nodem" 200 || tap_bail "the 200 recorder pods are not Running"

# ---- a black hole -------------------------------------------------------------
relay_freeze link
t0=$SECONDS
k -n "$ns" delete pod c1 c2 $(seq -f 'm%g' 1 50) --wait=false >/dev/null
pods_yaml "$node" d1 d2 | k -n "$ns" apply -f - >/dev/null
pods_yaml "$nodem" $(seq -f 'n%g' 1 20) | k -n "$ns" apply -f - >/dev/null
# At least 30 s: on a loaded machine the kubectl calls above alone once
# took longer (and sleep refused the negative rest).
left=$((30 - (SECONDS - t0)))
((left <= 0)) || sleep "$left"
tap_diag "the link was black-holed for $((SECONDS - t0)) s"
relay_thaw link
fault_end=$EPOCHREALTIME
{ seq -f 'c%g' 3 10; echo d1; echo d2; } | sort >"$tmp/c.kept"
{ seq -f 'm%g' 51 200; seq -f 'n%g' 1 20; } | sort >"$tmp/m.kept"
check_ready_after "after a 30 s black hole" "$node" "$fault_end"
check_ready_after "after a 30 s black hole" "$nodem" "$fault_end"
check_kept "recorder, after the black hole" "$nodem" "$tmp/m.kept"
check_kept "mynode, after the black hole" "$node" "$tmp/c.kept"

# ---- a slow link ----------------------------------------------------------------
kill -HUP "$link_pid" # every chunk held 500 ms
k -n "$ns" delete pod c3 $(seq -f 'm%g' 51 100) --wait=false >/dev/null
pods_yaml "$node" d3 | k -n "$ns" apply -f - >/dev/null
pods_yaml "$nodem" $(seq -f 'n%g' 21 40) | k -n "$ns" apply -f - >/dev/null
{ seq -f 'c%g' 4 10; echo d1; echo d2; echo d3; } | sort >"$tmp/c.kept"
{ seq -f 'm%g' 101 200; seq -f 'n%g' 1 40; } | sort >"$tmp/m.kept"
check_kept "recorder, over a 500 ms link" "$nodem" "$tmp/m.kept"
check_kept "mynode, over a 500 ms link" "$node" "$tmp/c.kept"
kill -HUP "$link_pid" # fast again
fault_end=$EPOCHREALTIME
check_ready_after "after the slow link" "$node" "$fault_end"
check_ready_after "after the slow link" "$nodem" "$fault_end"
grep -q 'slow link: every chunk held 500 ms' "$tmp/link.log" || tap_bail "the relay never slowed the link: $(cat "$tmp/link.log")"

check_alive "black hole and slow link"
check_clean "black hole and slow link"
tap_done
