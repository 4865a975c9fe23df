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

# True when PID is alive and its command line mentions DIR, so a PID the
# kernel gave to someone else after our process ended is never touched.
pid_is_ours() { # PID
	local pid=$1 cmd
	[[ -r /proc/$pid/cmdline ]] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *"$dir"* ]]
}

recorded_pid() { # NAME -> the PID in DIR/pids/NAME.pid, if any
	local f=$dir/pids/$1.pid
	[[ -f $f ]] && cat "$f"
}

# Starts NAME in the background with stdin closed and output in its log.
start_proc() { # NAME CMD...
	local name=$1
	shift
	mkdir -p "$dir/pids" "$dir/logs"
	"$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
	echo $! >"$dir/pids/$name.pid"
}

# Stops the recorded processes NAME...: TERM to all, up to VK_STOP_WAIT
# seconds for them to go, then KILL.  Returns non-zero if one survives.
stop_procs() { # NAME...
	local name pid pids=() deadline
	for name in "$@"; do
		pid=$(recorded_pid "$name") || continue
		if pid_is_ours "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
		rm -f "$dir/pids/$name.pid"
	done
	((${#pids[@]})) || return 0
	deadline=$((SECONDS + ${VK_STOP_WAIT:-15}))
	while ((SECONDS < deadline)); do
		alive_pids "${pids[@]}" >/dev/null || return 0
		sleep 0.1
	done
	for pid in $(alive_pids "${pids[@]}"); do
		log "pid $pid ignored TERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	done
	sleep 0.2
	! alive_pids "${pids[@]}" >/dev/null
}

# Prints those of PID... still alive (and ours); fails if none is.
alive_pids() {
	local pid found=1
	for pid in "$@"; do
		if pid_is_ours "$pid"; then
			echo "$pid"
			found=0
		fi
	done
	return $found
}

# Picks a TCP port on 127.0.0.1 that nothing listens on, below the kernel's
# ephemeral range so an outgoing connection cannot take it first.  Ports
# handed out by earlier calls in this process are skipped.
picked_ports=" "
free_port() {
	local p tries=0
	while ((tries++ < 200)); do
		p=$((20000 + RANDOM % 12000))
		[[ $picked_ports == *" $p "* ]] && continue
		if [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]]; then
			picked_ports+="$p "
			echo "$p"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

# Waits up to TIMEOUT seconds for CMD to succeed while NAME stays alive.
# On failure says why and shows NAME's log.
wait_for() { # NAME TIMEOUT CMD...
	local name=$1 timeout=$2 pid deadline
	shift 2
	pid=$(recorded_pid "$name" || true)
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [[ -n $pid ]] && ! pid_is_ours "$pid"; then
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
