#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# kubectl exec, attach and port-forward reach the provider's exec, attach
# and port_forward callbacks through the real API server, which speaks
# SPDY/3.1 to vk's kubelet API (providers/mock.lua echoes): stdin piped, a
# tty with its size, exit codes, both ends closing, stream:proxy to a
# streaming server on 127.0.0.1 (a stand-in for the runtime's, which relays
# to vk itself), and bad input, each a clear Status while vk keeps serving.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 23
vk_setup node

# A port nothing listens on (the API server reaches vk there).
port=
for _ in $(seq 200); do
	p=$((20000 + RANDOM % 12000)) # below the ephemeral range
	[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] && { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port"
pki=$CLUSTER_DIR/pki
cat >"$tmp/mock.yaml" <<YAML
internal_ip: 127.0.0.1
YAML
# ASan keeps freed blocks in a quarantine (256 MiB by default), so under a
# sanitizer build RSS grows with the bytes streamed, not with what vk holds:
# the stalled-reader check below once saw +110 MB on a loaded machine.  16
# MiB of quarantine keeps that check about vk's queues.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16" \
	vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" --log-level debug \
	--tls-cert-file "$pki/node-$node-serving.crt" --tls-private-key-file "$pki/node-$node-serving.key"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    stdin: true
    ports: [{containerPort: 8080}]
YAML
wait_until 10 pod_is web Running || tap_bail "pod not Running"
kx() { timeout 30 "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" "$@"; }

# -- exec -------------------------------------------------------------------------
out=$(printf 'hello\nworld\n' | kx exec -i web -- cat 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" $'0:cat\nhello\nworld' "kubectl exec -i with stdin piped: the command line, then stdin echoed until its end"

out=$(kx exec web -- sh -c 'exit 3' 2>"$tmp/err") && rc=0 || rc=$?
tap_is "$rc:$out:$(cat "$tmp/err")" "3:sh -c exit 3:command terminated with exit code 3" \
	"kubectl exec -- sh -c 'exit 3' exits 3 (the exit code travels as a v4 Status)"

out=$(kx exec web -- bytes 3000000 2>&1 </dev/null | wc -c) || true
tap_is "$out" 3000014 "3 MB of output arrive whole (the command line, then 3,000,000 bytes)"

# A tty: script(1) gives kubectl a terminal of 31 rows and 97 columns.
out=$(timeout 30 script -qec "stty rows 31 cols 97; $KUBECTL --kubeconfig $ADMIN_KUBECONFIG -n $ns exec -it web -- stty size" /dev/null 2>&1 | tr -d '\r') && rc=0 || rc=$?
tap_like "$rc:$out" $'^0:stty size\n31 97' "kubectl exec -it: the terminal's size arrives on the resize stream"

# The remote end closes first: kubectl ends although its stdin stays open.
out=$( (sleep 20 | kx exec -i web -- bytes 5) 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" "0:bytes 5"$'\n'"xxxxx" "the provider returning ends kubectl exec while kubectl's stdin is still open"

# A client that reads nothing of a 200 MB output stalls only its own session:
# vk keeps at most 256 KiB queued for it, so another exec goes through
# meanwhile and vk's memory stays flat.
rss() { awk '/VmRSS/ {print $2}' /proc/"$vk_pid"/status; }
rss0=$(rss)
# shellcheck disable=SC2216 # on purpose: a reader that reads nothing
(kx exec web -- bytes 200000000 2>/dev/null | sleep 25) &
slow_pid=$!
on_exit "kill $slow_pid 2>/dev/null || true"
sleep 5
out=$(printf 'beside a stalled one\n' | kx exec -i web -- cat 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" $'0:cat\nbeside a stalled one' "while one client reads nothing of a 200 MB output, another exec goes through"
rss1=$(rss)
if ((rss1 - rss0 < 100000)); then
	tap_pass "vk's memory stays flat meanwhile (RSS ${rss0} kB -> ${rss1} kB)"
else
	tap_fail "vk's memory stays flat meanwhile" "RSS ${rss0} kB -> ${rss1} kB"
fi
kill "$slow_pid" 2>/dev/null || true
wait "$slow_pid" 2>/dev/null || true

# -- attach --------------------------------------------------------------------------
out=$(printf 'attached\n' | kx attach -i web -c main 2>&1 | grep -v '^If you don' || true)
tap_like "$out" "attached" "kubectl attach -i: stdin reaches the provider's attach and comes back"

# -- port-forward ------------------------------------------------------------------
lport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" port-forward pod/web "$lport:8080" 9999:9999 \
	>"$tmp/pf.log" 2>&1 &
pf_pid=$!
on_exit "kill $pf_pid 2>/dev/null || true"
wait_until 20 grep -q "Forwarding from 127.0.0.1:$lport" "$tmp/pf.log" || tap_bail "port-forward did not start: $(cat "$tmp/pf.log")"
# Sends, closes its sending side, reads until the end: the echo comes back and
# then the end (the provider saw the client's end and closed its own).
echo_client() { # PORT TEXT (or "@N": N bytes of y)
	python3 - "$1" "$2" <<'PY'
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
data = sys.argv[2].encode()
if data.startswith(b"@"):
    data = b"y" * int(data[1:])
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=send, daemon=True).start()
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(got.decode(errors="replace"))
PY
}
tap_is "$(echo_client "$lport" "ping over port-forward" 2>&1)" "ping over port-forward" \
	"kubectl port-forward: bytes to the local port come back from the provider, then the end"
got=$(echo_client "$lport" @300000 2>&1 | wc -c)
tap_is "$got" 300001 "300 kB go through port-forward and back whole"
tap_is "$(echo_client "$lport" "again" 2>&1)" "again" "a second connection on the same port-forward works"
# Nothing listens on 9999 in the pod: the provider says so on the error stream.
echo_client 9999 "x" >/dev/null 2>&1 || true
wait_until 10 grep -q "nothing listens on port 9999" "$tmp/pf.log" && rc=0 || rc=1
if ((rc == 0)); then tap_pass "a port nobody listens on: kubectl port-forward prints the provider's error"; else
	tap_fail "a port nobody listens on: kubectl port-forward prints the provider's error" "$(cat "$tmp/pf.log")"
fi
kill "$pf_pid" 2>/dev/null || true
wait "$pf_pid" 2>/dev/null || true

# -- stream:proxy --------------------------------------------------------------------
python3 "$VK_ROOT/tests/e2e/vk/streaming_server.py" "$tmp/ss.port" "127.0.0.1:$port" "$pki/ca.crt" \
	"$pki/apiserver-kubelet-client.crt" "$pki/apiserver-kubelet-client.key" 2>"$tmp/ss.err" &
ss_pid=$!
on_exit "kill $ss_pid 2>/dev/null || true"
wait_until 10 test -s "$tmp/ss.port" || tap_bail "the streaming server did not start: $(cat "$tmp/ss.err")"
ss=http://127.0.0.1:$(cat "$tmp/ss.port")
out=$(printf 'through the proxy\n' | kx exec -i web -- via-proxy "$ss" cat 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" $'0:cat\nthrough the proxy' \
	"stream:proxy: kubectl exec is spliced to the streaming server's session (its 101 relayed, stdin and stdout through)"
out=$(kx exec web -- via-proxy "$ss" sh -c 'exit 4' 2>/dev/null) && rc=0 || rc=$?
tap_is "$rc:$out" "4:sh -c exit 4" "the exit code of the proxied session reaches kubectl"
out=$(kx exec web -- via-proxy "$ss/refuse" ls 2>&1) && rc=0 || rc=$?
tap_like "$rc:$out" '^1:.*no such exec session' "a streaming server's refusal (404) reaches kubectl with its body"
out=$(kx exec web -- via-proxy http://127.0.0.1:9 ls 2>&1) && rc=0 || rc=$?
tap_like "$rc:$out" '^1:.*cannot reach the streaming server at http://127.0.0.1:9/' \
	"a streaming server nobody listens for: the provider's nil, err is a clear Status"

# -- bad input ------------------------------------------------------------------------
# A malformed upgrade, straight to vk with the API server's client certificate.
kcurl() { curl -s --max-time 10 --cacert "$pki/ca.crt" --cert "$pki/apiserver-kubelet-client.crt" \
	--key "$pki/apiserver-kubelet-client.key" --http1.1 "$@"; }
body=$(kcurl -w ' %{http_code}' -X POST "https://127.0.0.1:$port/exec/$ns/web/main?command=ls&output=1")
tap_like "$body" '"status":"Failure","message":"exec [^"]*: Upgrade request required[^"]*".* 400$' \
	"an exec without an upgrade is a 400 Status that says an upgrade is required"
body=$(kcurl -w ' %{http_code}' -X POST -H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' \
	-H 'X-Stream-Protocol-Version: v4.channel.k8s.io' "https://127.0.0.1:$port/exec/$ns/web/nope?command=ls&output=1")
tap_like "$body" '"message":"exec [^"]*: container nope is not valid for pod [^"]*/web".* 404$' \
	"an unknown container is a 404 Status naming it"
body=$(kcurl -w ' %{http_code}' -X POST -H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' \
	-H 'X-Stream-Protocol-Version: v4.channel.k8s.io' "https://127.0.0.1:$port/exec/$ns/elsewhere/main?command=ls&output=1")
tap_like "$body" "\"message\":\"exec [^\"]*: pod $ns/elsewhere does not exist on node $node\".* 404\$" \
	"a pod this node does not run is a 404 Status"
out=$(kx exec web -c nope -- ls 2>&1) && rc=0 || rc=$?
tap_like "$rc:$out" '^1:.*container nope is not valid' "kubectl exec -c nope fails with the container's name"
body=$(kcurl -w ' %{http_code}' -X POST -H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' \
	-H 'X-Stream-Protocol-Version: v9.channel.k8s.io' "https://127.0.0.1:$port/exec/$ns/web/main?command=ls&output=1")
tap_like "$body" 'unable to negotiate protocol.* 403$' "a protocol vk does not speak is a 403 Status"

body=$(kcurl -w ' %{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
	-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: v4.channel.k8s.io' \
	"https://127.0.0.1:$port/exec/$ns/web/main?command=ls&output=1")
tap_like "$body" 'Upgrade: websocket is not served.* 400$' "a WebSocket upgrade is a 400 Status that says only SPDY/3.1 is served"

out=$(printf 'still here\n' | kx exec -i web -- cat 2>&1) && rc=0 || rc=$?
tap_is "$rc:$out" $'0:cat\nstill here' "after the bad input vk still serves exec"
tap_done
