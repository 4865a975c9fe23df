#!/usr/bin/env bash
# Undoes tests/cluster/containerd-up.sh DIR: removes every pod sandbox through
# the CRI (which stops its containers and tears down its network), stops
# containerd by its recorded PID, ends any shim of this containerd that is
# left, unmounts whatever is still mounted under DIR and deletes the CNI
# bridge and its /24's reservation.  Then checks that none of it is left.  Safe to run twice.
#
#   tests/cluster/containerd-down.sh DIR
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog=containerd-down # read by log() in common.sh
(($# == 1)) || { echo "usage: $0 DIR" >&2; exit 2; }
[[ -d $1 ]] || exit 0
dir=$(cd "$1" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
sock=$dir/containerd.sock
bridge=vkbr$(short_hash "$dir" 8)
status=0

# Shims run detached from containerd and outlive it: find them by the
# socket address on their command line.
shim_pids() {
	local pid exe
	for pid in $(pgrep -f -- "-address $sock( |$)" || true); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
		[[ ${exe##*/} == containerd-shim* ]] && echo "$pid"
	done
	return 0
}

# PID's descendants, deepest last (the container processes of a shim).
descendants() { # PID...
	local all
	all=$(ps -e -o pid=,ppid=)
	local queue=("$@") p c
	while ((${#queue[@]})); do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		# shellcheck disable=SC2013 # PIDs are words
		for c in $(awk -v p="$p" '$2 == p { print $1 }' <<<"$all"); do
			echo "$c"
			queue+=("$c")
		done
	done
}

# 1. Pods, through the CRI while containerd still answers.
id=$(recorded_id containerd || true)
if [[ -n $id ]] && pid_is_ours "$id" && [[ -S $sock ]]; then
	crictl=$("$here/build.sh" crictl 2>/dev/null)/crictl
	if [[ -x $crictl && -f $dir/crictl.yaml ]]; then
		"$crictl" --config "$dir/crictl.yaml" rmp --all --force >/dev/null 2>&1 ||
			log "crictl rmp failed; shims are ended below"
	fi
	# Tasks started with ctr in any namespace (the CRI knows only its own).
	for ns in $(ctr --address "$sock" namespaces ls -q 2>/dev/null || true); do
		for t in $(ctr -n "$ns" --address "$sock" tasks ls -q 2>/dev/null || true); do
			ctr -n "$ns" --address "$sock" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
			ctr -n "$ns" --address "$sock" tasks delete -f "$t" >/dev/null 2>&1 || true
		done
	done
fi

# 2. containerd itself.
stop_procs containerd || status=1

# 3. Shims (and their containers) that survived.
mapfile -t shims < <(shim_pids)
if ((${#shims[@]})); then
	mapfile -t kids < <(descendants "${shims[@]}")
	log "ending ${#shims[@]} leftover shim(s) and ${#kids[@]} process(es) under them"
	kill -KILL "${shims[@]}" "${kids[@]}" 2>/dev/null || true
	sleep 0.3
fi

# 4. Mounts under DIR (container rootfs, sandbox shm, network namespaces),
# deepest first.
while read -r m; do
	umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || { log "cannot unmount $m"; status=1; }
done < <(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)

# 5. The CNI bridge.
if ip link show "$bridge" >/dev/null 2>&1; then
	ip link delete "$bridge" || { log "cannot delete bridge $bridge"; status=1; }
fi

# The /24 containerd-up.sh reserved for this DIR.
for r in /run/lock/vk-cni/*; do
	[[ -f $r && $(cat "$r" 2>/dev/null) == "$dir" ]] && rm -f "$r"
done

# 6. Check.
mapfile -t left < <(shim_pids)
for pid in $(pgrep -f -- "$dir" || true); do
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	case ${exe##*/} in
	containerd | runc) left+=("$pid") ;;
	esac
done
if ((${#left[@]})); then
	log "still running after containerd-down: ${left[*]}"
	ps -o pid,args -p "$(IFS=,; echo "${left[*]}")" >&2 || true
	status=1
fi
if [[ -n $(awk -v d="$dir/" 'index($5, d) == 1' /proc/self/mountinfo) ]]; then
	log "mounts left under $dir"
	status=1
fi
exit $status
