#!/usr/bin/env bash
# kubectl exec, attach and port-forward on a mynode pod, through the real
# API server, to real containers in containerd: vk asks the runtime for a
# streaming URL (CRI Exec/Attach) and proxies the API server's upgrade to
# containerd's streaming server on 127.0.0.1, as kubelet does; port-forward
# connects to 127.0.0.1:PORT inside the pod's network namespace.
#
# exec: stdin piped through `cat`, stdout and stderr apart, the exit code
# (sh -c 'exit 3' -> 3), a tty driven by script(1) (a pty in the container,
# the terminal's size sent as a resize); attach to a container whose sh
# reads stdin; port-forward to busybox httpd bound to the pod's 127.0.0.1
# (an answer and 1 MiB read back on the local port); bad input (a
# container that is not running, a port nobody listens on) gives a clear
# error and vk keeps serving.  Every kubectl started here is stopped by
# its PID.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 16
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
# The API server reaches vk's kubelet API on a port nothing listens on, with
# the node's serving certificate.
port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000)) # below the ephemeral range
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port"
pki=$CLUSTER_DIR/pki
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000 \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
# kubectl, bounded: a session that hangs fails its check instead of the run.
kx() { timeout 60 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" "$@"; }

apply <<YAML
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  nodeName: NODE
  tolerations: TOL
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - {name: main, image: $BUSYBOX_IMAGE, command: [sleep, "3600"]}
  - name: reader
    image: $BUSYBOX_IMAGE
    stdin: true
    command: [sh, -c, 'while read l; do echo "got:\$l"; done']
  - name: web
    image: $BUSYBOX_IMAGE
    command: [sh, -c, 'mkdir -p /www && echo hello from the pod > /www/index.html &&
      head -c 1048576 /dev/urandom > /www/big && md5sum /www/big | cut -d" " -f1 > /www/big.md5 &&
      exec httpd -f -p 127.0.0.1:8080 -h /www']
  - {name: done, image: $BUSYBOX_IMAGE, command: ["true"]}
YAML
all_up() {
	[[ $(pod_phase app) == Running && $(cst app main .state.running.startedAt) &&
		$(cst app reader .state.running.startedAt) && $(cst app web .state.running.startedAt) &&
		$(cst app "done" .state.terminated.reason) == Completed ]]
}
wait_until 90 all_up || tap_bail "app not up: $(k -n "$ns" get pod app -o jsonpath='{.status}')"

# ---- exec ------------------------------------------------------------------
tap_is "$(echo "hi there" | kx exec -i app -c main -- cat 2>&1)" "hi there" \
	"kubectl exec -i: piped stdin reaches cat in the container and comes back"

rc=0
kx exec app -c main -- sh -c 'echo out; echo err >&2; exit 3' >"$tmp/out" 2>"$tmp/err" || rc=$?
tap_is "$rc" 3 "kubectl exec -- sh -c 'exit 3' exits 3"
tap_is "$(cat "$tmp/out")|$(grep -v '^command terminated' "$tmp/err")" "out|err" \
	"stdout and stderr arrive apart"

big=$(kx exec app -c main -- sh -c 'head -c 3000000 /dev/zero | tr "\0" x' </dev/null | wc -c) || true
tap_is "$big" 3000000 "3 MB of stdout arrive whole"

# A tty: script(1) gives kubectl a pty whose size it sends as a resize (it
# may reach the container's pty just after the command started: it waits).
rc=0
timeout 60 script -qec "stty rows 41 cols 123; $KUBECTL --kubeconfig $ADMIN_KUBECONFIG -n $ns exec -it app -c main -- \
	sh -c 'tty; i=0; while [ \$i -lt 100 ]; do s=\$(stty size 2>&1); [ \"\$s\" = \"41 123\" ] && break; i=\$((i+1)); sleep 0.2; done; echo \$s; exit 5'" /dev/null </dev/null >"$tmp/tty.out" 2>&1 || rc=$?
tty_out=$(tr -d '\r' <"$tmp/tty.out")
# The container's terminal echoes what reaches it as input (a control byte
# may show as "^@" before the size): the size ends its own line.
tap_like "$tty_out" $'/dev/pts/[0-9]+\n(.*[^0-9])?41 123(\n|$)' "kubectl exec -it: a pty in the container, sized by the client's resize"
tap_is "$rc" 5 "and the exit code comes through the tty session"

# ---- attach ----------------------------------------------------------------
mkfifo "$tmp/attach.in"
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" attach -i app -c reader <"$tmp/attach.in" >"$tmp/attach.out" 2>&1 &
attach_pid=$!
on_exit "kill $attach_pid 2>/dev/null"
exec 3>"$tmp/attach.in"
# Attach shows what the container writes from the moment its stdout is
# attached, never before (kubectl says so: "If you don't see a command
# prompt, try pressing enter").  containerd starts copying the session's
# stdin into the container before it adds the session to the container's
# stdout (ContainerIO.Attach), so an answer to the very first bytes may go
# to the log only: under stress-ng the soak saw "got:one" missing and the
# second line answered.  So, like a user pressing enter, the line is sent
# again every second until an answer comes back through the session.
last_one=-1
answered_one() {
	grep -qx "got:one" "$tmp/attach.out" && return 0
	# Written only while kubectl reads the fifo: a write with no reader
	# would end this script with SIGPIPE instead of a clear failure.
	pid_alive "$attach_pid" || { echo "kubectl attach exited: $(tail -3 "$tmp/attach.out")"; return 1; }
	if ((SECONDS - last_one >= 1)); then
		echo one >&3
		last_one=$SECONDS
	fi
	return 1
}
if wait_until 30 answered_one; then
	tap_pass "kubectl attach -i: stdin reaches the container's sh, its answer comes back"
else tap_fail "kubectl attach -i: stdin reaches the container's sh, its answer comes back" "$(cat "$tmp/attach.out")"; fi
echo two >&3
if wait_until 30 grep -qx "got:two" "$tmp/attach.out"; then tap_pass "a second line in the same session"
else tap_fail "a second line in the same session" "$(cat "$tmp/attach.out")"; fi
kill "$attach_pid" 2>/dev/null || true
wait "$attach_pid" 2>/dev/null || true
exec 3>&-
tap_is "$(cst app reader .state.running.startedAt | grep -c .) $(cst app reader .restartCount)" "1 0" \
	"the attached container goes on running after kubectl went away"

# ---- bad input ---------------------------------------------------------------
out=$(kx exec app -c "done" -- true 2>&1) && rc=0 || rc=$?
tap_like "$rc $out" '^[1-9][0-9]* .*container done of pod [a-z0-9]+/app is not running \(exited\)' \
	"exec into a container that exited: a clear error"

# ---- port-forward ----------------------------------------------------------
# PORT-FORWARD REMOTE: starts kubectl port-forward, sets pf_pid and pf_port.
port_forward() {
	: >"$tmp/pf.out"
	"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" port-forward --address 127.0.0.1 pod/app ":$1" >"$tmp/pf.out" 2>&1 &
	pf_pid=$!
	on_exit "kill $pf_pid 2>/dev/null"
	wait_until 30 grep -q "^Forwarding from 127.0.0.1:" "$tmp/pf.out" || tap_bail "port-forward: $(cat "$tmp/pf.out")"
	pf_port=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$tmp/pf.out" | head -1)
}
pf_stop() { kill "$pf_pid" 2>/dev/null || true; wait "$pf_pid" 2>/dev/null || true; }
get() { curl -sS --noproxy '*' --max-time 60 "http://127.0.0.1:$pf_port/$1"; }

port_forward 8080
tap_is "$(get index.html 2>&1)" "hello from the pod" \
	"kubectl port-forward: busybox httpd on the pod's 127.0.0.1:8080 answers on the local port"
want=$(get big.md5 2>&1)
tap_is "$(get big | md5sum | cut -d' ' -f1)" "$want" "1 MiB comes back whole (md5 as the pod computed it)"
tap_is "$(get index.html 2>&1)|$(get index.html 2>&1)" "hello from the pod|hello from the pod" \
	"more connections over the same port-forward"
pf_stop

port_forward 8081
get index.html >"$tmp/refused.curl" 2>&1 || true
wait_until 30 grep -q "8081 to pod" "$tmp/pf.out" || true
tap_like "$(cat "$tmp/pf.out")" "error forwarding port 8081 to pod [a-z0-9]+/app: connect 127\.0\.0\.1:8081: connection refused inside the pod's network namespace" \
	"a port nobody listens on: kubectl shows vk's clear error"
pf_stop
port_forward 8080
tap_is "$(get index.html 2>&1)" "hello from the pod" "after it vk still forwards"
pf_stop
tap_is "$(echo still | kx exec -i app -c main -- cat 2>&1)" "still" "and still execs"
tap_done
