#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start, tmp/ns/node (common.bash)
# `kubectl logs` against real containers (mynode, containerd), through the
# API server, as against a kubelet:
#   -f streams: lines written after the follow started arrive in order and
#      soon (each line's latency, its CRI time to its arrival, is printed;
#      the bound checked is generous, the goal is 1 s); a follow survives a
#      silence longer than the server's idle timeouts, and ends by itself
#      when the container exits;
#   a client that goes away (kubectl killed by its PID) ends the provider's
#      follow: vk's /metrics shows no follow left;
#   --previous after a restart is the instance before, and without one it
#      is kubelet's BadRequest; --since, --since-time, --timestamps
#      (RFC3339Nano), --tail, --limit-bytes;
#   vk stopped (SIGTERM) while a follow streams exits 0 and ends it.
# No sanitizer report at vk's stop (common.bash).
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 19
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
free_port_to port || tap_bail "no free port"
free_port_to mport || tap_bail "no free port"
pki=$CLUSTER_DIR/pki
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000 \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key" \
	--metrics-addr "127.0.0.1:$mport"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
follows() { curl -sf --max-time 5 "http://127.0.0.1:$mport/metrics" | sed -nE 's/^vk_server_log_follows ([0-9]+)$/\1/p'; }
follows_are() { [[ $(follows) == "$1" ]]; }

# tick: a line every 2 s.  brief: a line, 12 s of silence, two lines, exit.
# crash: counts its instances on an emptyDir and exits after 2 s.  quiet:
# one line, then silence.
apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: tick}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: $BUSYBOX_IMAGE, command: [sh, -c, 'i=0; while true; do echo "tick \$i"; i=\$((i+1)); sleep 2; done']}
---
apiVersion: v1
kind: Pod
metadata: {name: brief}
spec:
  nodeName: NODE
  tolerations: TOL
  restartPolicy: Never
  containers:
  - {name: app, image: $BUSYBOX_IMAGE, command: [sh, -c, 'sleep 2; echo early; sleep 12; echo late 1; echo late 2']}
---
apiVersion: v1
kind: Pod
metadata: {name: quiet}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: $BUSYBOX_IMAGE, command: [sh, -c, 'echo hello; exec sleep 3600']}
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 1
  volumes: [{name: d, emptyDir: {}}]
  containers:
  - name: app
    image: $BUSYBOX_IMAGE
    volumeMounts: [{name: d, mountPath: /d}]
    command: [sh, -c, 'n=\$((\$(cat /d/n 2>/dev/null || echo 0) + 1)); echo \$n >/d/n; echo "instance \$n"; sleep 2; exit 1']
YAML
wait_until 60 pod_is tick Running || tap_bail "tick not Running"
brief_started() { pod_is brief Running || pod_is brief Succeeded; } # a slow machine may miss its 14 s
wait_until 60 brief_started || tap_bail "brief not Running"

# ---- -f, until the container exits, across a 12 s silence -------------------
timeout 90 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" logs -f brief >"$tmp/brief.out" 2>&1 &
brief_pid=$!
on_exit "kill $brief_pid 2>/dev/null || true"
rc=0
wait "$brief_pid" || rc=$?
tap_is "$rc" 0 "kubectl logs -f ends by itself (exit 0) when the container exits"
tap_is "$(cat "$tmp/brief.out")" $'early\nlate 1\nlate 2' \
	"and showed the lines before the follow and after 12 s of silence, in order"

# ---- -f: latency and order, then the client goes away ---------------------------
two_ticks() { [[ $(k -n "$ns" logs tick | wc -l) -ge 2 ]]; }
wait_until 30 two_ticks || tap_bail "tick wrote nothing"
t_start=$(date +%s%N)
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" logs -f --timestamps tick \
	> >(while IFS= read -r l; do printf '%s %s\n' "${EPOCHREALTIME/./}" "$l"; done >"$tmp/follow.out") 2>&1 &
follow_pid=$!
on_exit "kill $follow_pid 2>/dev/null || true"
# four lines written after the follow started
new_lines() { # arrival-us ts text... of lines stamped after t_start
	while read -r at ts text; do
		[[ -n $ts ]] || continue
		local tns
		tns=$(date -d "$ts" +%s%N 2>/dev/null) || continue
		((tns > t_start)) && echo "$at $tns $text"
	done <"$tmp/follow.out"
	return 0
}
four_new() { [[ $(new_lines | wc -l) -ge 4 ]]; }
wait_until 60 four_new || true
new_lines >"$tmp/new.txt"
tap_ok "the follow received 4 lines written after it started ($(wc -l <"$tmp/new.txt") so far)" four_new
ticks=$(awk '{ print $4 }' "$tmp/new.txt" | head -4 | tr '\n' ' ')
read -r -a t <<<"$ticks"
if ((${#t[@]} == 4 && t[1] == t[0] + 1 && t[2] == t[0] + 2 && t[3] == t[0] + 3)); then
	tap_pass "they came in order, none missing (ticks $ticks)"
else
	tap_fail "they came in order, none missing" "ticks: $ticks" "$(cat "$tmp/follow.out")"
fi
lat=$(awk '{ printf "%d\n", ($1 * 1000 - $2) / 1000000 }' "$tmp/new.txt" | head -4 | tr '\n' ' ')
max=$(tr ' ' '\n' <<<"$lat" | sort -n | tail -1)
tap_diag "follow latency, CRI time to kubectl's output, ms: $lat(max $max)"
if [[ -n $max ]] && ((max < 5000)); then
	tap_pass "each reached kubectl within 5 s of being written (max $max ms; the goal is 1 s)"
else
	tap_fail "each reached kubectl within 5 s of being written" "latencies ms: $lat"
fi
tap_like "$(head -1 "$tmp/follow.out" | cut -d' ' -f2)" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?Z$' \
	"--timestamps prefixes RFC3339Nano times (no trailing zeros)"
tap_is "$(follows)" 1 "vk's /metrics counts the follow being streamed"
kill "$follow_pid"
wait "$follow_pid" 2>/dev/null || true
wait_until 30 follows_are 0 || true
tap_is "$(follows)" 0 "killing kubectl ends the follow in vk (vk_server_log_follows back to 0)"
# The same with a container that writes nothing more: vk must notice the
# client's leaving without a write failing.
wait_until 60 pod_is quiet Running || tap_bail "quiet not Running"
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" logs -f quiet >"$tmp/quiet.out" 2>&1 &
quiet_pid=$!
on_exit "kill $quiet_pid 2>/dev/null || true"
quiet_followed() { [[ $(cat "$tmp/quiet.out") == hello ]] && follows_are 1; }
wait_until 30 quiet_followed || true
kill "$quiet_pid"
wait "$quiet_pid" 2>/dev/null || true
t_kill=$(date +%s%N)
wait_until 30 follows_are 0 || true
tap_is "$(follows)" 0 \
	"killing kubectl while the container is silent ends the follow too ($((($(date +%s%N) - t_kill) / 1000000)) ms)"
ended() {
	curl -sf --max-time 5 "http://127.0.0.1:$mport/metrics" |
		sed -nE 's/^vk_provider_callback_duration_seconds_count\{callback="container_logs"\} ([0-9]+)$/\1/p'
}
before=$(ended)
# the provider's call returned too: a non-follow call adds exactly one
k -n "$ns" logs --tail=1 tick >/dev/null
calls_settled() { [[ $(ended) == $((before + 1)) ]]; }
tap_ok "the provider's follow returned: no container_logs call is left running" wait_until 10 calls_settled

# ---- the filters ------------------------------------------------------------------------
k -n "$ns" logs --timestamps tick >"$tmp/all.txt"
tap_is "$(k -n "$ns" logs --tail=2 tick | wc -l | tr -d ' ')" 2 "--tail=2 gives two lines"
tail2=$(k -n "$ns" logs --tail=2 tick | awk '{ print $2 }' | tr '\n' ' ')
read -r -a t <<<"$tail2"
# (ticks go on meanwhile: the last is at least the last of the log read before)
before_last=$(tail -1 "$tmp/all.txt" | awk '{ print $3 }')
if ((${#t[@]} == 2 && t[1] == t[0] + 1 && t[1] >= before_last)); then
	tap_pass "the last two, consecutive ($tail2)"
else
	tap_fail "the last two, consecutive" "$tail2 (the log read before ended at tick $before_last)"
fi
tap_is "$(k -n "$ns" logs --limit-bytes=9 tick)" $'tick 0\nti' "--limit-bytes=9 gives the first 9 bytes"
out=$(timeout 60 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" logs -f --limit-bytes=9 tick 2>&1) && rc=0 || rc=$?
tap_is "$rc $out" $'0 tick 0\nti' "-f --limit-bytes=9 ends by itself after those 9 bytes"
# --since-time: the API server keeps whole seconds; ticks are 2 s apart, so
# the third line's second starts at that line.
third=$(sed -n 3p "$tmp/all.txt")
since_t=$(cut -d' ' -f1 <<<"$third" | sed -E 's/\.[0-9]+Z$/Z/')
tap_is "$(k -n "$ns" logs --since-time="$since_t" tick | head -1)" "$(cut -d' ' -f2- <<<"$third")" \
	"--since-time=$since_t starts at the line of that second"
t_req=$(date +%s)
k -n "$ns" logs --since=5s --timestamps tick >"$tmp/since.txt"
n_all=$(k -n "$ns" logs tick | wc -l)
first_s=$(date -d "$(head -1 "$tmp/since.txt" | cut -d' ' -f1)" +%s)
n_since=$(wc -l <"$tmp/since.txt")
if ((n_since >= 1 && n_since <= 4 && n_since < n_all && first_s >= t_req - 7)); then
	tap_pass "--since=5s gives only the last seconds' lines ($n_since of $n_all)"
else
	tap_fail "--since=5s gives only the last seconds' lines" "$n_since of $n_all, first at $first_s, asked at $t_req"
fi

# ---- --previous -------------------------------------------------------------------------
out=$(k -n "$ns" logs --previous tick 2>&1) && rc=0 || rc=$?
if ((rc != 0)) && [[ $out == *'BadRequest'*'previous terminated container "app" in pod "tick" not found'* ]]; then
	tap_pass "--previous without a restart is kubelet's BadRequest"
else
	tap_fail "--previous without a restart is kubelet's BadRequest" "rc=$rc: $out"
fi
restarted() { [[ $(cst crash app '.restartCount') -ge 1 ]]; }
wait_until 90 restarted || tap_bail "crash never restarted"
prev=$(k -n "$ns" logs --previous crash 2>&1 || true)
cur=$(k -n "$ns" logs crash 2>&1 || true)
if [[ $prev =~ ^instance\ ([0-9]+)$ ]] && p=${BASH_REMATCH[1]} && [[ $cur =~ ^instance\ ([0-9]+)$ ]] &&
	((BASH_REMATCH[1] > p)); then
	tap_pass "--previous after a restart is the instance before ($prev; now $cur)"
else
	tap_fail "--previous after a restart is the instance before" "previous: $prev" "current: $cur"
fi

# ---- vk stops while a follow streams --------------------------------------------------
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" logs -f quiet >"$tmp/last.out" 2>&1 &
last_pid=$!
on_exit "kill $last_pid 2>/dev/null || true"
wait_until 30 follows_are 1 || true
vk_stop "$vk_pid" && rc=0 || rc=$?
gone() { ! pid_alive "$last_pid"; }
wait_until 30 gone || true
if ((rc == 0)) && gone; then
	tap_pass "SIGTERM with a follow open stops vk cleanly (exit 0), and kubectl's follow ends"
else
	tap_fail "SIGTERM with a follow open stops vk cleanly, and kubectl's follow ends" "vk exit $rc" \
		"kubectl alive: $(pid_alive "$last_pid" && echo yes || echo no)"
fi
tap_done
