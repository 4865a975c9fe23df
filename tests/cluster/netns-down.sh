#!/usr/bin/env bash
# Undoes tests/cluster/netns-up.sh DIR: stops both socat bridges by their
# recorded PIDs, deletes the veth pair and the namespace, then checks that
# none of it is left.  Safe to run twice.  Processes a test started inside
# the namespace are the test's to stop first.
#
#   tests/cluster/netns-down.sh DIR
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog='netns-down' # read by log() in common.sh
(($# == 1)) || { echo "usage: $0 DIR" >&2; exit 2; }
[[ -d $1 ]] || exit 0
dir=$(cd "$1" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
h=$(short_hash "$dir" 8)
netns=vkns$h
veth=vkh$h
status=0
left=

stop_procs netns-api-ns netns-api-host || { log "a socat bridge survived"; status=1; }
if ip link show "$veth" >/dev/null 2>&1; then
	ip link del "$veth" || status=1 # takes its peer in the namespace along
fi
if ip netns list | grep -qw "$netns"; then
	left=$(ip netns pids "$netns" 2>/dev/null | tr '\n' ' ' || true)
	if [[ -n $left ]]; then
		log "processes still run in $netns (pids: $left); not deleting it"
		status=1
	else
		ip netns del "$netns" || status=1
	fi
fi
rm -f "$dir/apiserver.sock" "$dir/netns.env"
ip link show "$veth" >/dev/null 2>&1 && { log "veth $veth is left"; status=1; }
[[ -z $left ]] && ip netns list | grep -qw "$netns" && { log "namespace $netns is left"; status=1; }
exit $status
