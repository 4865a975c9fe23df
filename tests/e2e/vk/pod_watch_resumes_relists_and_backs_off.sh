#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# The pod watch: list + watch with fieldSelector=spec.nodeName=NODE; after a
# dropped connection it resumes from the last resourceVersion (no new list);
# when the API server is gone it reconnects with growing, jittered delays;
# after the restart the old resourceVersion is 410 Gone and it lists again.
# Pods created at each step still reach Running.
# It restarts the shared control plane's API server, which the other e2e
# tests would see go away: tests/run.sh runs it alone, after them.
# vk-test-serial
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 9
vk_setup node
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
pod_yaml before "$node" | k apply -f - >/dev/null
wait_until 20 pod_is before Running || tap_bail "first pod not Running"
tap_ok "the first list was filtered by spec.nodeName (vk logged it)" grep -q "listed [0-9]* pods on $node" "$tmp/vk.log"
lists() { grep -c "listed [0-9]* pods on" "$tmp/vk.log" || true; }
n_lists=$(lists)

# 1. Drop vk's connection to the API server (kill its TCP sockets).
port=${APISERVER##*:}
socks=$(ss -tnpH state established "( dport = :$port )" | grep "pid=$vk_pid," | awk '{print $3}' | sed 's/.*://')
for sp in $socks; do ss -K state established "( dport = :$port and sport = :$sp )" >/dev/null 2>&1 || true; done
resumed() { grep -q "pods on $node watch: resuming from resourceVersion" "$tmp/vk.log"; }
if wait_until 15 resumed; then tap_pass "after a dropped connection the watch resumes from its resourceVersion"; else tap_fail "after a dropped connection the watch resumes from its resourceVersion" "$(vk_log_tail vk)"; fi
pod_yaml after-drop "$node" | k apply -f - >/dev/null
if wait_until 20 pod_is after-drop Running; then tap_pass "a pod created after the drop runs"; else tap_fail "a pod created after the drop runs" "$(vk_log_tail vk)"; fi
tap_is "$(lists)" "$n_lists" "resuming did not list again"

# 2. The API server away for 6 s, then back with a fresh watch cache.
"$VK_ROOT/tests/cluster/restart.sh" "$CLUSTER_DIR" kube-apiserver 6 >&2
delays=$(grep -o 'pods on [^ ]* watch: .*reconnecting in [0-9]* ms' "$tmp/vk.log" | sed 's/.*in \([0-9]*\) ms/\1/' | tail -n +2 || true)
tap_diag "reconnect delays while the API server was down (ms): $(tr '\n' ' ' <<<"$delays")"
tap_ok "it retried while the API server was down" test "$(wc -w <<<"$delays")" -ge 3
tap_ok "the delays grow (backoff)" python3 -c "import sys; d=[int(x) for x in '''$delays'''.split()]; sys.exit(0 if len(d)>=3 and d[-1] > d[0] else 1)"
tap_ok "the delays are jittered, not exact powers of two" python3 -c "import sys; d=[int(x) for x in '''$delays'''.split()]; sys.exit(0 if any(x not in (125,250,500,1000,2000,4000,8000,16000) for x in d) else 1)"
relisted() { [[ $(lists) -gt $n_lists ]] && grep -q "is too old (410 Gone); listing again" "$tmp/vk.log"; }
if wait_until 30 relisted; then tap_pass "the old resourceVersion is 410 Gone after the restart, and it lists again"; else tap_fail "the old resourceVersion is 410 Gone after the restart, and it lists again" "$(vk_log_tail vk)"; fi
pod_yaml after-restart "$node" | k apply -f - >/dev/null
if wait_until 30 pod_is after-restart Running; then tap_pass "a pod created after the restart runs"; else tap_fail "a pod created after the restart runs" "$(vk_log_tail vk)"; fi
grep -E "410|Gone|listed|resuming|reconnecting" "$tmp/vk.log" | tail -n 12 | tap_diag
tap_done
