#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# 20 kubectl exec sessions at once (each streaming its own lines for about
# 15 s through the API server and vk's SPDY sessions) while 100 pods are
# created and deleted over and over: every session gets exactly its own
# bytes back, the lease keeps being renewed, the node stays Ready, and
# every pod of the churn is gone at the end.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 6
vk_setup node

port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000))
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port"
pki=$CLUSTER_DIR/pki
printf 'internal_ip: 127.0.0.1\npods: "300"\n' >"$tmp/mock.yaml"
vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" --log-level debug \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
pod_yaml web "$node" | k apply -f - >/dev/null
wait_until 10 pod_is web Running || tap_bail "pod not Running"

# The churn: 100 pods created, then deleted, again and again (new names each
# round), until told to stop.
for i in $(seq 100); do
	pod_yaml "churn-ROUND-$i" "$node" | sed 's/labels: {app: [^}]*}/labels: {churn: "yes"}/'
	echo ---
done >"$tmp/churn.yaml"
(
	r=0
	while [[ ! -e $tmp/stop ]]; do
		r=$((r + 1))
		sed "s/ROUND/$r/" "$tmp/churn.yaml" | k apply -f - >/dev/null 2>&1 || true
		k -n "$ns" delete pods -l churn=yes --wait=false >/dev/null 2>&1 || true
		echo "$r" >"$tmp/rounds"
	done
) &
churn_pid=$!
on_exit "touch '$tmp/stop'; kill $churn_pid 2>/dev/null || true"

lease() { k -n kube-node-lease get lease "$node" -o jsonpath='{.spec.renewTime}'; }
renew0=$(lease)
renewals0=$(grep -c 'lease: renewed' "$tmp/vk.log" || true)

# Session i sends 15 lines, one a second, each naming it and 1 kB long.
for i in $(seq 20); do
	(
		for j in $(seq 15); do
			printf 'session-%02d line-%02d %s\n' "$i" "$j" "$(printf "%01000d" "$i")"
			sleep 1
		done
	) | tee "$tmp/in.$i" | timeout 90 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" exec -i web -- cat \
		>"$tmp/out.$i" 2>"$tmp/err.$i" &
	pids[i]=$!
done
failed=0
for i in $(seq 20); do
	wait "${pids[i]}" || failed=$((failed + 1))
done
touch "$tmp/stop"
wait "$churn_pid" 2>/dev/null || true
tap_is "$failed" 0 "the 20 concurrent kubectl exec sessions all end with 0"

bad=
for i in $(seq 20); do
	{ echo cat; cat "$tmp/in.$i"; } | cmp -s - "$tmp/out.$i" || bad+=" $i"
done
if [[ -z $bad ]]; then tap_pass "each session got exactly its own 15 lines back (no byte of another)"; else
	tap_fail "each session got exactly its own 15 lines back (no byte of another)" "sessions$bad differ" \
		"$(head -c 300 "$tmp/out.${bad%% *}" 2>/dev/null; head -3 "$tmp/err.${bad## }" 2>/dev/null)"
fi
mixed=$(grep -l -v -E '^(cat|session-([0-9]{2}) line-[0-9]{2} .*)$' "$tmp"/out.* || true)
tap_is "$mixed" "" "no session's output holds a line that is not its own kind"

renew1=$(lease)
renewals1=$(grep -c 'lease: renewed' "$tmp/vk.log" || true)
if [[ $renew1 > $renew0 ]] && ((renewals1 - renewals0 >= 1)); then
	tap_pass "the lease was renewed during the sessions ($renew0 -> $renew1, $((renewals1 - renewals0)) renewals)"
else
	tap_fail "the lease was renewed during the sessions" "renewTime $renew0 -> $renew1" \
		"renewals logged: $((renewals1 - renewals0))"
fi
tap_is "$(node_ready "$node")" True "the node is still Ready"
wait_until 60 bash -c "[[ -z \$($KUBECTL --kubeconfig $ADMIN_KUBECONFIG -n $ns get pods -l churn=yes -o name 2>/dev/null) ]]" &&
	rc=0 || rc=1
tap_is "$rc" 0 "every pod of the churn is gone at the end ($(cat "$tmp/rounds") rounds of 100, $(grep -c 'created in the provider' "$tmp/vk.log") pods created)"
tap_done
