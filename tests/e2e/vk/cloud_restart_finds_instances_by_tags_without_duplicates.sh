#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# providers/cloud.lua: vk restarted with an empty local store finds its
# instances again by their tags.  It creates no duplicate for the pods that
# kept running, deletes the instance of a pod force-deleted while it was
# down, and creates one for a pod made meanwhile.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/cloud.bash"
tap_plan 7
vk_setup node
cloud_sim_up --schedule-delay 0.5 --start-delay 0.5 --rate-limit 100 --burst 100
cloud_config ""
cloud_vk_start vk "$node"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

for i in 1 2 3 4 5 6; do pod_yaml "p$i" "$node"; echo ---; done | k apply -f - >/dev/null
running() { [[ $(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l) -eq $1 ]]; }
if wait_until 60 running 6; then tap_pass "6 pods Running on 6 instances"; else tap_fail "6 pods Running on 6 instances" "$(k -n "$ns" get pods)"; fi
before=$(sim_live | jq -r '.ContainerGroupId' | sort)

vk_stop "$vk_pid"
gone_uid=$(k -n "$ns" get pod p2 -o jsonpath='{.metadata.uid}')
k -n "$ns" delete pod p2 --grace-period=0 --force >/dev/null 2>&1
pod_yaml p7 "$node" | k apply -f - >/dev/null

# A fresh state dir: what vk knows comes from the cloud's tags alone.
cloud_vk_start vk2 "$node"
has_p7() { [[ $(pod_phase p7) == Running ]]; }
if wait_until 60 has_p7; then tap_pass "the pod made while vk was down runs"; else tap_fail "the pod made while vk was down runs" "$(k -n "$ns" get pods)" "$(vk_log_tail vk2)"; fi
live() { [[ $(sim_live | wc -l) -eq $1 ]]; }
if wait_until 30 live 6; then tap_pass "6 instances live (5 kept, 1 new)"; else tap_fail "6 instances live (5 kept, 1 new)" "$(sim_live | jq -c '[.ContainerGroupName, .Status]')"; fi
tap_is "$(sim /debug/counts | jq '.created')" 7 "7 instances created in all: none twice"
uids_api=$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}' | sort)
uids_cloud=$(sim_live | jq -r '.Tags[] | select(.Key == "vk.io/pod-uid") | .Value' | sort)
tap_is "$uids_cloud" "$uids_api" "the instances are exactly the pods' (one each)"
tap_is "$(sim_live | jq -r ".Tags[] | select(.Value == \"$gone_uid\") | .Key" | wc -l)" 0 "the force-deleted pod's instance is gone"
after=$(sim_live | jq -r '.ContainerGroupId' | sort)
kept=$(comm -12 <(echo "$before") <(echo "$after") | wc -l)
tap_is "$kept" 5 "the 5 pods that kept running kept their instances"
tap_done
