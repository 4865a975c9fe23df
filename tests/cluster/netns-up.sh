#!/usr/bin/env bash
# Makes a network namespace in which a test runs vk at an address that is
# not loopback, so that the API server's node proxy (nodes/NAME/proxy/...),
# which refuses loopback, can reach vk's kubelet API:
#   - a veth pair: 10.213.X.1/30 on the host, 10.213.X.2/30 inside (X free);
#   - the API server (on 127.0.0.1:APIPORT of the host) bridged into the
#     namespace through a unix socket, so the kubeconfig and certificates
#     stay as they are: on the host socat UNIX-LISTEN:DIR/apiserver.sock ->
#     TCP:127.0.0.1:APIPORT, inside socat TCP-LISTEN:APIPORT on 127.0.0.1
#     -> that socket.
# Traffic goes only to 127.0.0.1 and into this namespace.
#
#   tests/cluster/netns-up.sh DIR APIPORT
#
# Writes DIR/netns.env (NETNS_DIR NETNS NETNS_IP NETNS_HOST_IP NETNS_VETH),
# DIR/pids/netns-api-{host,ns}.pid and DIR/logs/netns-api-{host,ns}.log.
# tests/cluster/netns-down.sh DIR undoes it all.  Needs root.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog='netns-up' # read by log() in common.sh
(($# == 2)) || { echo "usage: $0 DIR APIPORT" >&2; exit 2; }
[[ $2 =~ ^[0-9]+$ ]] || { echo "$0: APIPORT must be a port number, not '$2'" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
apiport=$2
# shellcheck source=common.sh
source "$here/common.sh"
command -v socat >/dev/null || { log "socat is missing (scripts/install-deps.sh installs it)"; exit 1; }

h=$(short_hash "$dir" 8)
netns=vkns$h
veth=vkh$h # host side; inside: vkn$h (15 characters at most each)
sock=$dir/apiserver.sock
((${#sock} < 100)) || { log "DIR path too long for a unix socket: $sock"; exit 2; }
if ip netns list | grep -qw "$netns"; then
	log "namespace $netns already exists for $dir; run netns-down.sh first"
	exit 1
fi

ok=0
on_exit() {
	((ok)) && return 0
	log "start-up failed; undoing what was done"
	"$here/netns-down.sh" "$dir" >/dev/null 2>&1 || true
}
trap on_exit EXIT

# A free /30 in 10.213.0.0/16, chosen and configured under a lock so that
# two tests starting together never take the same one.
exec 9>/run/lock/vk-netns.lock
flock 9
x=
used=$(ip -o -4 addr show | awk '{print $4}')
for i in $(seq 0 255); do
	[[ $used == *"10.213.$i."* ]] || { x=$i; break; }
done
[[ -n $x ]] || { log "no free 10.213.X.0/30"; exit 1; }
ip netns add "$netns"
ip link add "$veth" type veth peer name "vkn$h" netns "$netns"
ip addr add "10.213.$x.1/30" dev "$veth"
ip link set "$veth" up
ip -n "$netns" addr add "10.213.$x.2/30" dev "vkn$h"
ip -n "$netns" link set "vkn$h" up
ip -n "$netns" link set lo up
flock -u 9

rm -f "$sock"
start_proc netns-api-host socat "UNIX-LISTEN:$sock,fork,mode=600" "TCP:127.0.0.1:$apiport"
wait_for netns-api-host 10 test -S "$sock"
start_proc netns-api-ns ip netns exec "$netns" \
	socat "TCP-LISTEN:$apiport,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$sock"
wait_for netns-api-ns 10 ip netns exec "$netns" bash -c "exec 3<>/dev/tcp/127.0.0.1/$apiport"

cat >"$dir/netns.env" <<ENV
NETNS_DIR=$dir
NETNS=$netns
NETNS_IP=10.213.$x.2
NETNS_HOST_IP=10.213.$x.1
NETNS_VETH=$veth
ENV
ok=1
log "namespace $netns at 10.213.$x.2 (host 10.213.$x.1), API server port $apiport bridged inside"
