#!/usr/bin/env bash
# shellcheck disable=SC2154 # vk_pid, vk2_pid are assigned by name by vk_start (common.bash)
# vk with the edge cache (embedded store) is killed with SIGKILL in the
# middle of a 200-pod churn (creates, then deletes of half of them while the
# rest are still being created) and started again.  The provider
# (recorder.lua, which keeps its pods in a file like a runtime keeps its
# containers) is never asked to create a pod it already had, nothing it runs
# is left behind that the API does not have, the deleted pods are gone from
# both, and the others run.  The restarted vk resumes from the store's
# resourceVersion rather than starting empty.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
vk_setup node
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
vk_args=(--provider-config "$tmp/config.yaml" --store embedded --state-dir "$tmp/state" --status-interval 2000)
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"

N=200
for ((i = 1; i <= N; i++)); do pod_yaml "p$i" "$node"; echo ---; done >"$tmp/pods.yaml"
k apply -f "$tmp/pods.yaml" >/dev/null
# Deletes of the first half begin while the second half is still arriving.
provider_has() { [[ -s $tmp/state.json ]] && (($(jq length "$tmp/state.json") >= $1)); }
wait_until 120 provider_has 60 || tap_bail "the provider got fewer than 60 pods: $(vk_log_tail vk)"
k -n "$ns" delete pod $(seq -f 'p%g' 1 100) --wait=false >/dev/null
sleep 1
kill -KILL "$vk_pid"
wait "$vk_pid" 2>/dev/null || true
# What the provider has at the moment of the kill: none of it may be created again.
had=$(jq -r '.[].pod.metadata.uid' "$tmp/state.json" | sort -u)
tap_diag "at the kill the provider had $(grep -c . <<<"$had") pods"
: >"$tmp/calls2.jsonl"
printf 'record: %s\nstate: %s\n' "$tmp/calls2.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
vk_start vk2 "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
if wait_until 30 grep -q 'pods from the store' "$tmp/vk2.log"; then
	tap_pass "the restarted vk starts from the store"
else
	tap_fail "the restarted vk starts from the store" "$(vk_log_tail vk2)"
fi

api_keys() { k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
settled() {
	[[ $(k -n "$ns" get pods -o name | wc -l) == 100 ]] &&
		[[ $(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l) == 100 ]]
}
if wait_until 300 settled; then tap_pass "the 100 pods kept are Running and the 100 deleted are gone from the API"; else tap_fail "the 100 pods kept are Running and the 100 deleted are gone from the API" "$(k -n "$ns" get pods | tail -5)" "$(vk_log_tail vk2)"; fi
provider_keys() { jq -r '.[] | .pod.metadata.name + "=" + .pod.metadata.uid' "$tmp/state.json" | sort; }
# The provider writes its file as its deletes finish: wait (generously, a
# slow machine or valgrind) for it to match the API, then check it.
same_keys() { [[ $(provider_keys) == "$(api_keys)" ]]; }
wait_until 120 same_keys || true
tap_is "$(provider_keys)" "$(api_keys)" "no orphan: the provider runs exactly the pods the API has, same uids"
tap_is "$(seq -f 'p%g' 101 200 | sort | tr '\n' ' ')" "$(api_keys | cut -d= -f1 | tr '\n' ' ')" "the API holds p101..p200"
again=$(jq -r 'select(.call == "create_pod") | .data.uid' "$tmp/calls2.jsonl" | sort | comm -12 - <(cat <<<"$had") | wc -l)
tap_is "$again" 0 "no duplicate: no pod the provider had at the kill is created again"
dup=$(jq -r 'select(.call == "create_pod") | .data.uid' "$tmp/calls2.jsonl" | sort | uniq -d | wc -l)
tap_is "$dup" 0 "after the restart no pod is created twice"
vk_stop "$vk2_pid" || true
stats=$(grep -o 'store .*commits per pod event)' "$tmp/vk2.log" | tail -n1)
tap_diag "$stats"
tap_like "$stats" 'commits per pod event' "vk reports its store writes per pod event at exit"
tap_done
