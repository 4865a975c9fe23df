#!/usr/bin/env bash
# vk-test-timeout: 1500
# The control plane's etcd is restarted three times (twice stopped, once
# killed with SIGKILL, each down for 2 s) while pods are created and deleted
# on two nodes: 200 on the recorder's (a mock that writes down every
# create) and 20 real containers on mynode's.  Afterwards every pod kept
# runs once, on one sandbox, none is lost, the nodes renew their Leases
# right after the last restart, and after the deletes nothing is left.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
tap_plan 10
faults_up

churn m "$nodem" 20 10 # 200 pods created, 100 kept
churn c "$node" 10 2   # 20 real pods created, 10 kept
for sig in TERM KILL TERM; do
	sleep 3
	VK_RESTART_SIGNAL=$sig restart_component etcd 2
done
tap_diag "3 restarts of etcd done"
check_ready_after "after etcd restarts" "$node" "$fault_end"
check_ready_after "after etcd restarts" "$nodem" "$fault_end"
wait_until 300 churn_done m || tap_bail "the churn did not finish"
wait_until 300 churn_done c || tap_bail "the churn did not finish"
check_kept "recorder, 200-pod churn" "$nodem" "$tmp/m.kept"
check_kept "mynode, 20-pod churn" "$node" "$tmp/c.kept"
check_one_sandbox "etcd restarts"
check_alive "etcd restarts"
check_clean "etcd restarts"
tap_done
