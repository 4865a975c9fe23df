#!/usr/bin/env bash
# vk-test-timeout: 1500
# The API server is killed with SIGKILL and started again 20 times
# (VK_FAULTS_KILLS: tests/run.sh's default list makes it 5) while
# pods are created and deleted on two nodes: 200 on the recorder's (a mock
# that writes down every create) and 20 real containers on mynode's.  When
# the churn is over, every pod kept runs once, on one sandbox, none is lost,
# the nodes renew their Leases right after the last restart, and after the
# deletes nothing is left in containerd.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
tap_plan 10
faults_up

churn m "$nodem" 20 10 # 200 pods created, 100 kept
churn c "$node" 10 2   # 20 real pods created, 10 kept
kills=${VK_FAULTS_KILLS:-20}
for ((i = 1; i <= kills; i++)); do
	sleep 0.5
	VK_RESTART_SIGNAL=KILL restart_component kube-apiserver
done
tap_diag "$kills SIGKILL restarts of the API server done"
check_ready_after "after $kills API server kills" "$node" "$fault_end"
check_ready_after "after $kills API server kills" "$nodem" "$fault_end"
wait_until 300 churn_done m || tap_bail "the churn did not finish"
wait_until 300 churn_done c || tap_bail "the churn did not finish"
check_kept "recorder, 200-pod churn" "$nodem" "$tmp/m.kept"
check_kept "mynode, 20-pod churn" "$node" "$tmp/c.kept"
check_one_sandbox "API server kills"
check_alive "API server kills"
check_clean "API server kills"
tap_done
