#!/usr/bin/env bash
# shellcheck disable=SC2154 # inj_pid, injm_pid are assigned by name (printf -v)
# vk-test-timeout: 1500
# Each vk reaches the API server through an HTTPS relay of its own
# (inject_relay.py: TLS ended and made again with the node's certificate)
# that answers 30% of the requests with 429 "Retry-After: 2" or 500.  vk
# registers, runs 200 recorder pods and 10 real ones all the same; then for
# 12 s every request gets 429 while pods are deleted and created: vk holds
# its calls for the Retry-After instead of spinning, and sends one of them
# per Retry-After rather than the herd (its requests at the relay are
# bounded), and when the API server is well again
# every pod kept runs once, none is lost, the nodes are Ready, and after
# the deletes nothing is left.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
tap_plan 15
faults_prepare
inject_start() { # NAME NODE
	python3 "$VK_ROOT/tests/faults/inject_relay.py" "${APISERVER##*:}" "$CLUSTER_DIR/pki" "node-$2" \
		"$tmp/$1.requests" 0.3 >"$tmp/$1.port" 2>>"$tmp/$1.log" &
	printf -v "${1}_pid" '%s' $!
	on_exit "relay_stop $!"
	wait_until 30 test -s "$tmp/$1.port" || tap_bail "the injecting relay $1 did not start: $(cat "$tmp/$1.log")"
	relay_kubeconfig "$2" "$(head -1 "$tmp/$1.port")" "$tmp/$1.kubeconfig" || tap_bail "no relay kubeconfig"
}
inject_start inj "$node"
inject_start injm "$nodem"
tap_context "echo '--- last requests at the relays:'; tail -n 5 '$tmp/inj.requests' '$tmp/injm.requests'"
VK_KUBECONFIG=$tmp/inj.kubeconfig VKM_KUBECONFIG=$tmp/injm.kubeconfig faults_start

pods_yaml "$node" $(seq -f 'c%g' 1 10) | k_retry -n "$ns" apply -f -
pods_yaml "$nodem" $(seq -f 'm%g' 1 200) | k_retry -n "$ns" apply -f -
wait_until 300 all_running "$node" 10 || tap_bail "the 10 mynode pods are not Running"
wait_until 300 all_running "$nodem" 200 || tap_bail "the 200 recorder pods are not Running"
injected() { awk '$5 == "injected" && $4 == '"$2"'' "$tmp/$1.requests" | wc -l; }
tap_like "$(injected injm 429) $(injected injm 500)" '^[1-9][0-9]* [1-9][0-9]*$' \
	"the relay answered some of vk's requests 429 and some 500 (vk coped: 200 pods Running)"

# ---- every request 429 for 12 s, while pods come and go -----------------------------
t0=$EPOCHREALTIME
kill -HUP "$inj_pid" "$injm_pid"
k -n "$ns" delete pod c1 c2 $(seq -f 'm%g' 1 50) --wait=false >/dev/null
pods_yaml "$node" d1 | k -n "$ns" apply -f - >/dev/null
pods_yaml "$nodem" $(seq -f 'n%g' 1 20) | k -n "$ns" apply -f - >/dev/null
sleep 12
t1=$EPOCHREALTIME
kill -USR1 "$inj_pid" "$injm_pid"
fault_end=$EPOCHREALTIME
# Requests per second at each relay in the window (its first second left
# out: calls already on their way).  Each vk holds every call for 2 s after
# a 429 and then sends one of them (the probe; its Lease when it has one),
# so about one call every 2 s, and its watches' retries, is what it should
# send: 9 to 12 requests, at most 2 in a second, in runs at load 12-27.  A
# retry loop without the wait sends hundreds; releasing every held call
# at the end of each wait sent 188, 41 in one second.
rate() { # NAME -> "TOTAL MAX_PER_SECOND"
	awk -v a="$t0" -v b="$t1" '$1 > a + 1 && $1 < b { n++; s[int($1)]++ } END { m = 0; for (k in s) if (s[k] > m) m = s[k]; print n + 0, m }' "$tmp/$1.requests"
}
for r in inj injm; do
	read -r total max < <(rate "$r")
	tap_diag "figure: relay $r: $total requests in the 11 s of 429s, at most $max in one second"
	if ((max <= 20 && total <= 60)); then
		tap_pass "relay $r: vk does not spin on 429 ($total requests in 11 s, at most $max/s; bound 20/s, 60)"
	else
		tap_fail "relay $r: vk does not spin on 429 (bound 20/s, 60 in 11 s)" "saw $total requests, at most $max in one second" \
			"$(awk -v a="$t0" -v b="$t1" '$1 > a + 1 && $1 < b' "$tmp/$r.requests" | awk '{ print $2, $3 }' | sort | uniq -c | sort -rn | head)"
	fi
done
tap_ok "vk says it waits for the API server's Retry-After" grep -q 'Retry-After 2 s: new calls wait for it' "$tmp/vkm.log"

{ seq -f 'c%g' 3 10; echo d1; } | sort >"$tmp/c.kept"
{ seq -f 'm%g' 51 200; seq -f 'n%g' 1 20; } | sort >"$tmp/m.kept"
check_ready_after "after 12 s of 429" "$node" "$fault_end"
check_ready_after "after 12 s of 429" "$nodem" "$fault_end"
# A renewal fell in the 12 s (one every 10 s) and failed: the log says when
# the heartbeat came back and how long it had been away.
if wait_until 30 grep -qE 'lease: renewed after [0-9]+ failed or abandoned renewal\(s\), [0-9.]+ s after the last good one' "$tmp/vkm.log"; then
	tap_pass "vk logs when its Lease is renewed again after failed renewals"
else
	tap_fail "vk logs when its Lease is renewed again after failed renewals" "$(grep 'lease:' "$tmp/vkm.log" | tail -5)"
fi
check_kept "recorder, after 429s and 500s" "$nodem" "$tmp/m.kept"
check_kept "mynode, after 429s and 500s" "$node" "$tmp/c.kept"
check_one_sandbox "429 and 500"
check_alive "429 and 500"
check_clean "429 and 500"
tap_done
