#!/usr/bin/env bash
# shellcheck disable=SC2154 # vk_pid, vk2_pid, vk3_pid are assigned by name by vk_start (common.bash)
# The embedded store's file: a corrupt vk.db stops vk at start-up with one
# line naming the file and how to recover (move it aside); with the file
# moved aside (missing), vk starts online, re-creates and deletes nothing,
# and rebuilds the store from the API (the next start finds the pods in it).
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 6
vk_setup node
printf 'record: %s\nstate: %s\n' "$tmp/calls.jsonl" "$tmp/state.json" >"$tmp/config.yaml"
vk_args=(--provider-config "$tmp/config.yaml" --state-dir "$tmp/state")
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"
for p in a b c; do pod_yaml "$p" "$node" | k apply -f - >/dev/null; done
for p in a b c; do wait_until 30 pod_is "$p" Running || tap_bail "$p not Running: $(vk_log_tail vk)"; done
sleep 2
vk_stop "$vk_pid" || tap_bail "vk did not stop cleanly: $(vk_log_tail vk)"
[[ -s $tmp/state/vk.db ]] || tap_bail "no $tmp/state/vk.db after a run"

# Corrupt: garbage where the database was.
rm -f "$tmp/state/vk.db-wal" "$tmp/state/vk.db-shm"
head -c 65536 /dev/urandom >"$tmp/state/vk.db"
rc=0
timeout 60 "$VK_BIN" --provider "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --kubeconfig "$CLUSTER_DIR/$node.kubeconfig" \
	--nodename "$node" --port 0 "${vk_args[@]}" >"$tmp/corrupt.log" 2>&1 || rc=$?
tap_ok "vk refuses a corrupt store file (exit status $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
line=$(grep -i 'vk.db' "$tmp/corrupt.log" | grep -iv 'info' | head -n1)
tap_diag "$line"
tap_like "$line" "$tmp/state/vk\.db.*(move it aside|moving it aside)" "the error names the file and says to move it aside"

# Missing (moved aside): vk starts online and rebuilds it from the API.
mv "$tmp/state/vk.db" "$tmp/state/vk.db.corrupt"
: >"$tmp/calls.jsonl"
vk_start vk2 "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk2)"
# The node may still be Ready from the first vk: wait for this one's list
# (the write-behind writes what it lists, and vk_stop flushes it).
vk2_listed() { grep -q 'listed 3 pods on' "$tmp/vk2.log"; }
wait_until 20 vk2_listed || tap_bail "vk2 did not list the pods: $(vk_log_tail vk2)"
tap_is "$(grep -cE '"call":"(create|delete)_pod"' "$tmp/calls.jsonl" || true)" 0 "with the file missing nothing is created or deleted"
tap_is "$(k -n "$ns" get pods --field-selector=status.phase=Running -o name | wc -l)" 3 "the pods still run"
vk_stop "$vk2_pid" || true
vk_start vk3 "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" "${vk_args[@]}"
holds() { grep -q 'holds 3 pods' "$tmp/vk3.log"; }
if wait_until 20 holds; then tap_pass "the store was rebuilt from the API: the next start finds the 3 pods in it"; else tap_fail "the store was rebuilt from the API: the next start finds the 3 pods in it" "$(vk_log_tail vk3)"; fi
vk_stop "$vk3_pid" || true
tap_ok "no sanitizer report" vk_sanitizers_quiet 0 "$tmp/vk3.log"
tap_done
