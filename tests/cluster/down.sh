#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stops the control plane that tests/cluster/up.sh DIR started, by the PIDs
# it recorded (TERM, a grace period, then KILL), and checks that none of its
# processes is left.  Safe to run twice; keeps DIR (logs, certificates).
#
#   tests/cluster/down.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog=down # read by log() in common.sh
(($# == 1)) || { echo "usage: $0 DIR" >&2; exit 2; }
[[ -d $1 ]] || exit 0
dir=$(cd "$1" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"

# Clients first, etcd last, so nothing logs errors about a vanished peer.
stop_procs kube-scheduler kube-controller-manager || true
stop_procs kube-apiserver || true
stop_procs etcd || true

# Whatever is still alive with DIR on its command line and a control-plane
# binary as its program was ours and escaped.
left=()
for pid in $(pgrep -f -- "$dir" || true); do
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	case ${exe##*/} in
	etcd | kube-apiserver | kube-controller-manager | kube-scheduler) left+=("$pid") ;;
	esac
done
if ((${#left[@]})); then
	log "still running after down: ${left[*]}"
	ps -o pid,args -p "${left[@]}" >&2 || true
	exit 1
fi
