# Helpers shared by up.sh, down.sh, containerd-up.sh and containerd-down.sh.
# Sourced, not run.  Every process these scripts start records its PID in
# DIR/pids/NAME.pid and logs to DIR/logs/NAME.log; the down scripts stop
# exactly those PIDs, never anything found by name.
# shellcheck shell=bash disable=SC2154

# The sourcing script sets dir (its DIR, absolute) and prog (its name).
log() { echo "[${prog:-cluster}] $*" >&2; }

# Shows the end of a component's log so a failure explains itself.
show_log() { # NAME
	local f=$dir/logs/$1.log
	[[ -f $f ]] || return 0
	echo "----- last lines of $f -----" >&2
	tail -n "${VK_LOG_TAIL:-40}" "$f" >&2
	echo "-----" >&2
}

# A process is known by its PID and its start time (field 22 of
# /proc/PID/stat, in clock ticks since boot).  The start time is set at fork
# and survives exec, so it is readable from the moment `&` returns, unlike
# /proc/PID/cmdline, which is the parent shell's until exec and empty in the
# middle of it.  A PID the kernel gave to someone else after our process
# ended has another start time, so it is never taken for ours.
proc_start() { # PID -> its start time; fails if it is gone or a zombie
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) } # the name in parentheses may hold blanks
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- $rest
	[[ $1 != Z && $1 != X ]] || return 1
	echo "${20}"
}

# True when the process ID ("PID:START", as start_proc records it) is alive.
pid_is_ours() { # ID
	local pid=${1%%:*} start=${1#*:} now
	[[ $1 == *:* && $pid =~ ^[0-9]+$ ]] || return 1
	now=$(proc_start "$pid") || return 1
	[[ $now == "$start" ]]
}

recorded_id() { # NAME -> the "PID:START" in DIR/pids/NAME.pid, if any
	local f=$dir/pids/$1.pid
	[[ -f $f ]] && cat "$f"
}

# Starts NAME in the background with stdin closed and output in its log,
# and records "PID:START" in DIR/pids/NAME.pid.
start_proc() { # NAME CMD...
	local name=$1 pid start
	shift
	mkdir -p "$dir/pids" "$dir/logs"
	"$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
	pid=$!
	# Gone already (it failed at once and was reaped): record a start time
	# no process has, so it reads as exited.
	start=$(proc_start "$pid") || start=gone
	echo "$pid:$start" >"$dir/pids/$name.pid"
}

# Stops the recorded processes NAME...: TERM to all, up to VK_STOP_WAIT
# seconds for them to go, then KILL.  Returns non-zero if one survives.
stop_procs() { # NAME...
	local name id pid pids=() deadline
	for name in "$@"; do
		id=$(recorded_id "$name") || continue
		if pid_is_ours "$id"; then
			kill -TERM "${id%%:*}" 2>/dev/null || true
			pids+=("$id")
		fi
		rm -f "$dir/pids/$name.pid"
	done
	((${#pids[@]})) || return 0
	deadline=$((SECONDS + ${VK_STOP_WAIT:-15}))
	while ((SECONDS < deadline)); do
		alive_pids "${pids[@]}" >/dev/null || return 0
		sleep 0.1
	done
	for id in $(alive_pids "${pids[@]}"); do
		pid=${id%%:*}
		log "pid $pid ignored TERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	done
	# A killed process with many threads (the API server) takes its time to
	# go on a loaded machine: 0.2 s was once too short, and the restart
	# that followed gave up and left the e2e suite without a control plane.
	for id in "${pids[@]}"; do
		wait_gone "$id" || { log "pid ${id%%:*} survived SIGKILL"; return 1; }
	done
}

# Waits (up to 30 s) until ID is gone with all its threads: a killed
# leader shows as a zombie while its other threads still exit, and they
# hold its sockets until then.
wait_gone() { # ID
	local p=${1%%:*} i n
	for ((i = 0; i < 300; i++)); do
		if ! pid_is_ours "$1"; then
			n=$(find "/proc/$p/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
			((n <= 1)) && return 0
		fi
		sleep 0.1
	done
	return 1
}

# Prints those of ID... ("PID:START") still alive; fails if none is.
alive_pids() {
	local id found=1
	for id in "$@"; do
		if pid_is_ours "$id"; then
			echo "$id"
			found=0
		fi
	done
	return $found
}

# free_port_to VAR: a free TCP port on 127.0.0.1 (ports.sh).
# shellcheck source=ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

# Waits up to TIMEOUT seconds for CMD to succeed while NAME stays alive.
# On failure says why and shows NAME's log.
wait_for() { # NAME TIMEOUT CMD...
	local name=$1 timeout=$2 id deadline
	shift 2
	id=$(recorded_id "$name" || true)
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [[ -n $id ]] && ! pid_is_ours "$id"; then
			log "$name exited during start-up"
			show_log "$name"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "$name not ready after $timeout s"
			show_log "$name"
			return 1
		fi
		sleep 0.2
	done
}

b64() { base64 -w0 <"$1"; }

# A string's short hex digest, for names that must differ between DIRs.
short_hash() { printf '%s' "$1" | sha256sum | cut -c1-"${2:-8}"; }
