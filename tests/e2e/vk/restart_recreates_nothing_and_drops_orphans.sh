#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Start-up reconcile: vk restarted (slowly) while pods run re-creates none
# of them and deletes none that is still wanted; a pod the provider has but
# the API no longer does is deleted from the provider.  SIGTERM stops vk
# cleanly without deleting any pod.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 8
vk_setup node
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
for p in keep1 keep2 orphan; do pod_yaml "$p" "$node" | k apply -f - >/dev/null; done
for p in keep1 keep2 orphan; do wait_until 20 pod_is "$p" Running || tap_bail "$p not Running"; done
uids_before=$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort)

t0=$SECONDS
if vk_stop "$vk_pid"; then tap_pass "SIGTERM stops vk with exit status 0"; else tap_fail "SIGTERM stops vk with exit status 0" "$(vk_log_tail vk)"; fi
tap_ok "vk stopped by itself on SIGTERM and said why ($((SECONDS - t0)) s)" grep -q 'Terminated: stopping; pods keep running' "$tmp/vk.log"
tap_is "$(k -n "$ns" get pods -o name | wc -l)" 3 "no pod was deleted when vk stopped"

# While vk is down, the orphan leaves the API (force: no kubelet to confirm).
k -n "$ns" delete pod orphan --grace-period=0 --force >/dev/null 2>&1
sleep 5 # a slow restart
: >"$tmp/calls.jsonl"
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
orphan_deleted() { grep -q '"call":"delete_pod".*/orphan"' "$tmp/calls.jsonl"; }
if wait_until 15 orphan_deleted; then tap_pass "the pod gone from the API is deleted from the provider"; else tap_fail "the pod gone from the API is deleted from the provider" "$(vk_log_tail vk)"; fi
sleep 3
tap_is "$(grep -E '"call":"(create|update)_pod"' "$tmp/calls.jsonl" | grep -c "\"$ns/" || true)" 0 "no create_pod or update_pod after the restart"
tap_is "$(grep '"call":"delete_pod"' "$tmp/calls.jsonl" | grep "\"$ns/" | grep -vc '/orphan' || true)" 0 "no delete_pod for a wanted pod"
tap_is "$(k -n "$ns" get pods -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort)" \
	"$(grep -v '^orphan=' <<<"$uids_before")" "the wanted pods keep their uids"
tap_is "$(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l)" 2 "both are still Running"
tap_done
