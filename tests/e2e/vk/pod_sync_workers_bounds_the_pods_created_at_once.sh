#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: two_pid, dflt_pid by vk_start (common.bash)
# --pod-sync-workers N, virtual-kubelet's flag: at most N pods' callbacks
# run at once and the others wait their turn; without it vk's own bound
# (64) lets a small batch run together.  Six pods' create_pod calls wait
# while a file exists; the provider's record (a line as each create starts,
# one as it ends) says how many were in flight, counted in order.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
vk_setup node

started() { grep -c '"call":"create_pod"' "$1" || true; }   # RECORD
finished() { grep -c '"call":"env"' "$1" || true; }         # RECORD
started_at_least() { (($(started "$1") >= $2)); }                        # RECORD N
# peak RECORD: the most creates between their create_pod and env lines.
peak() {
	jq -rs '[.[] | select(.call == "create_pod" or .call == "env")]
	        | reduce .[] as $c ({n: 0, max: 0};
	            .n += (if $c.call == "create_pod" then 1 else -1 end) | .max = ([.max, .n] | max)) | .max' "$1"
}
held_pods() { # PREFIX HOLD: six pods whose create_pod waits while the file HOLD exists
	local i
	for i in 1 2 3 4 5 6; do
		pod_yaml "$1-$i" "$node" | sed "s|^metadata: {name: $1-$i,|metadata: {annotations: {vk-test/create: \"hold:$2\"}, name: $1-$i,|"
		echo ---
	done | k apply -f - >/dev/null
}
all_running() { # PREFIX
	local i
	for i in 1 2 3 4 5 6; do pod_is "$1-$i" Running || return 1; done
}
all_gone() { # PREFIX
	local i
	for i in 1 2 3 4 5 6; do pod_gone "$1-$i" || return 1; done
}
start_vk() { # NAME [ARGS...]
	local name=$1
	shift
	printf 'record: %s\nstate: %s\n' "$tmp/$name.jsonl" "$tmp/$name.state.json" >"$tmp/$name.yaml"
	: >"$tmp/$name.jsonl"
	vk_start "$name" "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/$name.yaml" "$@"
	wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail "$name")"
}

# Two workers: two creates start and hold; all six pods are in the API, so
# an unbounded vk would have started the rest by now.
start_vk two --pod-sync-workers 2
touch "$tmp/hold"
held_pods w "$tmp/hold"
wait_until 30 started_at_least "$tmp/two.jsonl" 2 || tap_bail "no create started: $(vk_log_tail two)"
sleep 3
tap_is "$(started "$tmp/two.jsonl")" 2 "--pod-sync-workers 2: two creates start while the first two are held"
rm -f "$tmp/hold"
wait_until 60 all_running w || true
tap_ok "--pod-sync-workers 2: once released, all six pods are Running" all_running w
tap_is "$(finished "$tmp/two.jsonl")" 6 "--pod-sync-workers 2: each pod was created once"
tap_is "$(peak "$tmp/two.jsonl")" 2 "--pod-sync-workers 2: never more than two creates in flight"
vk_stop "$two_pid" || true

# The default: the six holds start together.  The first vk's pods are gone
# first (its provider kept them; this one starts with an empty state).
k -n "$ns" delete pod w-1 w-2 w-3 w-4 w-5 w-6 --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
wait_until 30 all_gone w || tap_bail "the first batch is not gone"
start_vk dflt
touch "$tmp/hold"
held_pods d "$tmp/hold"
if wait_until 60 started_at_least "$tmp/dflt.jsonl" 6; then
	tap_pass "without the flag: all six creates run at once (none can end while held)"
else
	tap_fail "without the flag: all six creates run at once" "$(started "$tmp/dflt.jsonl") started"
fi
rm -f "$tmp/hold"
wait_until 60 all_running d || true
tap_ok "without the flag: once released, all six pods are Running" all_running d
tap_is "$(finished "$tmp/dflt.jsonl")" 6 "without the flag: each pod was created once"
tap_done
