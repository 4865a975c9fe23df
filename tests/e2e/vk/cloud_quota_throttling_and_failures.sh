#!/usr/bin/env bash
# providers/cloud.lua against a cloud that says no:
#  * past the account's quota a pod stays Pending (reason QuotaExceeded)
#    with a Warning Event, and runs once the quota is raised;
#  * under throttling (429 with Retry-After) every pod still runs, and the
#    provider waits as told instead of hammering the API;
#  * an instance that fails to schedule makes its pod phase Failed.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/cloud.bash"
tap_plan 8
vk_setup node
cloud_sim_up --schedule-delay 0.5 --start-delay 0.5 --rate-limit 100 --burst 100 --quota-instances 3
cloud_config "retry_max_ms: 8000"
cloud_vk_start vk "$node"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

# -- quota --
for i in 1 2 3 4; do pod_yaml "q$i" "$node"; echo ---; done | k apply -f - >/dev/null
running() { [[ $(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l) -eq $1 ]]; }
if wait_until 60 running 3; then tap_pass "3 pods Running: the quota's 3 instances"; else tap_fail "3 pods Running: the quota's 3 instances" "$(k -n "$ns" get pods)"; fi
waiting=$(k -n "$ns" get pods --field-selector=status.phase=Pending -o jsonpath='{.items[*].metadata.name}')
reason() { k -n "$ns" get pod "$1" -o jsonpath='{.status.reason}'; }
has_reason() { [[ $(reason "$1") == "$2" ]]; }
if [[ -n $waiting ]] && wait_until 30 has_reason "$waiting" QuotaExceeded; then
	tap_pass "the fourth pod ($waiting) is Pending with reason QuotaExceeded"
else
	tap_fail "the fourth pod is Pending with reason QuotaExceeded" "$(k -n "$ns" get pods -o wide)"
fi
quota_event() { k -n "$ns" get events --field-selector "involvedObject.name=$waiting,reason=QuotaExceeded" -o jsonpath='{.items[0].message}' | grep -q 'instance quota 3'; }
if wait_until 30 quota_event; then tap_pass "a Warning Event QuotaExceeded names the quota"; else tap_fail "a Warning Event QuotaExceeded names the quota" "$(k -n "$ns" get events)"; fi
sim_set '{"quota": {"cpu": 1000, "memory": 4000, "instances": 100}}'
if wait_until 60 running 4; then tap_pass "with the quota raised, it runs"; else tap_fail "with the quota raised, it runs" "$(k -n "$ns" get pods -o wide)"; fi

# -- throttling: 2 requests a second, bursts of 2 --
c0=$(sim /debug/counts)
sim_set '{"rate_limit": 2, "burst": 2}'
for i in $(seq 1 12); do pod_yaml "t$i" "$node"; echo ---; done | k apply -f - >/dev/null
if wait_until 120 running 16; then tap_pass "12 more pods run while the API allows 2 requests a second"; else tap_fail "12 more pods run while the API allows 2 requests a second" "$(k -n "$ns" get pods | grep -v Running)" "$(vk_log_tail vk)"; fi
c1=$(sim /debug/counts)
throttled=$(($(jq .throttled <<<"$c1") - $(jq .throttled <<<"$c0")))
accepted=$(($(jq '.CreateContainerGroup + .DescribeContainerGroups + .DescribeAccountQuota' <<<"$c1") - $(jq '.CreateContainerGroup + .DescribeContainerGroups + .DescribeAccountQuota' <<<"$c0")))
tap_diag "under throttling: $accepted requests served, $throttled refused with 429"
# A client that retried at once on 429 would be refused many times for each
# request served; one that waits Retry-After out is refused about once per
# wait.
tap_ok "Retry-After is honoured: at most one 429 per request served ($throttled for $accepted)" \
	test "$throttled" -le "$accepted"
sim_set '{"rate_limit": 100, "burst": 100}'

# -- a failed instance --
sim_set '{"failure_rate": 1.0}'
pod_yaml doomed "$node" | k apply -f - >/dev/null
if wait_until 60 pod_is doomed Failed; then tap_pass "an instance that fails to schedule makes its pod Failed"; else tap_fail "an instance that fails to schedule makes its pod Failed" "$(k -n "$ns" get pod doomed -o yaml | tail -30)"; fi
tap_is "$(reason doomed)" ScheduleFailed "its reason is the cloud's (ScheduleFailed)"
sim_set '{"failure_rate": 0.0}'
tap_done
