#!/usr/bin/env bash
# vk-test-timeout: 1500
# Both vk are killed with SIGKILL at random moments of a churn (creates and
# deletes on both nodes: 200 recorder pods, 20 real containers), 20 times
# (VK_FAULTS_KILLS: tests/run.sh's default list makes it 5), and started
# again each time on their stores.  Afterwards every pod kept
# runs once, on one sandbox, none is lost, nothing the API deleted is left
# running, the nodes renew their Leases right after the last restart, and
# after the deletes nothing is left.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
tap_plan 11
faults_up

churn m "$nodem" 20 10 # 200 pods created, 100 kept
churn c "$node" 10 2   # 20 real pods created, 10 kept
want=${VK_FAULTS_KILLS:-20}
kills=0
for ((i = 1; i <= want; i++)); do
	# 0.2 to 3 s: early in a create, in the middle of one, during deletes
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 2.8 * r / 32768 }')"
	kill -KILL "$vk_pid" "$vkm_pid"
	wait "$vk_pid" "$vkm_pid" 2>/dev/null || true
	kills=$((kills + 1))
	# What the recorder had at the kill (a create_pod killed before its
	# save never happened for it), and where its record stood.
	if [[ -s $tmp/state.json ]]; then jq -r '.[].pod.metadata.uid' "$tmp/state.json"; fi | sort >"$tmp/had.$i"
	{ wc -l <"$tmp/calls.jsonl" 2>/dev/null || echo 0; } >"$tmp/at.$i"
	vk_start_mynode
	vk_start_recorder
done
fault_end=$EPOCHREALTIME
tap_is "$kills" "$want" "vk was killed and started again $want times"
check_ready_after "after $want vk kills" "$node" "$fault_end" 15 0
check_ready_after "after $want vk kills" "$nodem" "$fault_end" 15 0
wait_until 300 churn_done m || tap_bail "the churn did not finish"
wait_until 300 churn_done c || tap_bail "the churn did not finish"
check_kept "recorder, 200-pod churn" "$nodem" "$tmp/m.kept"
check_kept "mynode, 20-pod churn" "$node" "$tmp/c.kept"
tap_is "$(sandbox_dups)" "" "vk kills: no pod duplicated: one sandbox per pod uid in the CRI"
# The recorder: no create_pod, after a kill, of a pod it had at that kill.
again=$(for ((i = 1; i <= want; i++)); do
	tail -n +"$(($(cat "$tmp/at.$i") + 1))" "$tmp/calls.jsonl" | jq -r 'select(.call == "create_pod") | .data.uid' |
		sort -u | comm -12 - "$tmp/had.$i"
done | sort -u)
tap_is "$again" "" "vk kills: no pod duplicated: no pod the recorder had at a kill is created again"
check_alive "vk kills"
check_clean "vk kills"
tap_done
