#!/usr/bin/env bash
# Restarts one component of a control plane started by up.sh, with the same
# command line, so tests can see what a client does when the API server
# goes away and comes back (dropped watches, 410 Gone after the restart).
#
#   tests/cluster/restart.sh DIR kube-apiserver [DOWN_SECONDS]
#
# The component stays down DOWN_SECONDS (default 0) before it starts again.
# Returns once it serves again (for the API server: /readyz is ok, within
# VK_APISERVER_WAIT seconds, 180 by default).
# VK_RESTART_SIGNAL=KILL stops it with SIGKILL instead of TERM (a crash).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog=restart # read by log() in common.sh
(($# >= 2)) || { echo "usage: $0 DIR COMPONENT [DOWN_SECONDS]" >&2; exit 2; }
dir=$(cd "$1" && pwd)
name=$2
down_s=${3:-0}
# shellcheck source=common.sh
source "$here/common.sh"

id=$(recorded_id "$name") || { log "$name: no PID recorded in $dir/pids"; exit 1; }
pid_is_ours "$id" || { log "$name: PID ${id%%:*} is not running"; exit 1; }
mapfile -d '' cmd <"/proc/${id%%:*}/cmdline"
if [[ ${VK_RESTART_SIGNAL:-TERM} == KILL ]]; then
	kill -KILL "${id%%:*}"
	wait_gone "$id" || { log "$name: PID ${id%%:*} survived SIGKILL"; exit 1; }
	rm -f "$dir/pids/$name.pid"
else
	stop_procs "$name"
fi
sleep "$down_s"
start_proc "$name" "${cmd[@]}"
if [[ $name == kube-apiserver ]]; then
	# shellcheck source=/dev/null
	source "$dir/env"
	ready() { curl -sf --max-time 2 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" "$APISERVER/readyz"; }
	# As up.sh's VK_APISERVER_WAIT, but longer: a loaded machine (load 38
	# on 2 cores) once took more than 60 s to make a killed API server ready.
	wait_for "$name" "${VK_APISERVER_WAIT:-180}" ready
fi
log "$name restarted"
