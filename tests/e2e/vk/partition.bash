# Helpers for the partition tests, on top of common.bash: a link between vk
# and the API server that the test cuts (tests/cluster/relay.py), and the
# API's audit log of pod creates and deletes.
#
#   relay_start NAME           a relay to the API server; port in ${NAME}_port,
#                              PID in ${NAME}_pid, log in $tmp/NAME.log
#   relay_kubeconfig NODE PORT FILE   NODE's kubeconfig, pointed at the relay
#   relay_cut NAME | relay_mend NAME      refused connections, and back
#   relay_freeze NAME | relay_thaw NAME   a black hole (SIGSTOP), and back
#   audit_pods [NAMESPACE]     "USER VERB RESOURCE NS/NAME CODE" per request
# shellcheck shell=bash

source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

relay_start() { # NAME
	local name=$1 pid port="" i
	python3 "$VK_CLUSTER/relay.py" "${APISERVER##*:}" >"$tmp/$name.port" 2>>"$tmp/$name.log" &
	pid=$!
	on_exit "relay_stop $pid"
	for ((i = 0; i < 100; i++)); do
		port=$(head -n 1 "$tmp/$name.port" 2>/dev/null)
		[[ -n $port ]] && break
		sleep 0.1
	done
	[[ -n $port ]] || return 1
	printf -v "${name}_pid" '%s' "$pid"
	printf -v "${name}_port" '%s' "$port"
}

# Ends a relay by PID, frozen or not.
relay_stop() { # PID
	pid_alive "$1" || return 0
	kill -CONT "$1" 2>/dev/null
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
}

relay_kubeconfig() { # NODE PORT FILE
	sed "s#server: $APISERVER\$#server: https://127.0.0.1:$2#" "$CLUSTER_DIR/$1.kubeconfig" >"$3"
	chmod 600 "$3"
	grep -q "server: https://127.0.0.1:$2\$" "$3"
}

_relay_pid() { local v=${1}_pid; echo "${!v}"; }
relay_cut() { kill -USR1 "$(_relay_pid "$1")"; }
relay_mend() { kill -USR2 "$(_relay_pid "$1")"; }
relay_freeze() { kill -STOP "$(_relay_pid "$1")"; }
relay_thaw() { kill -CONT "$(_relay_pid "$1")"; }

audit_pods() { "$VK_CLUSTER/audit-pods.sh" "$CLUSTER_DIR/logs/audit.log" "$@"; }

# vk's log times are whole seconds (RFC 3339, UTC): the epoch second of the
# first line matching ERE after epoch second SINCE, or nothing.
vk_log_time() { # NAME ERE SINCE
	local line ts
	while IFS= read -r line; do
		ts=$(date -u -d "${line%%Z *}Z" +%s 2>/dev/null) || continue
		((ts >= $3)) && { echo "$ts"; return 0; }
	done < <(grep -E "$2" "$tmp/$1.log")
	return 1
}

# Streams a watch of the API (as admin) into FILE, each event line prefixed
# with the time it arrived here ($EPOCHREALTIME); stopped at exit by PID.
watch_record() { # PATH FILE
	local fifo=$tmp/watch.$RANDOM.fifo crt=$CLUSTER_DIR/pki/admin reader
	mkfifo "$fifo"
	(while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done <"$fifo" >"$2") &
	reader=$!
	# curl itself in the background (not through a function, whose subshell
	# would be the PID), so that killing it closes the fifo and ends the reader.
	curl -s -N --max-time 1200 --cacert "$CA_CERT" --cert "$crt.crt" --key "$crt.key" "$APISERVER$1" \
		>"$fifo" 2>/dev/null &
	on_exit "kill $! 2>/dev/null; wait $! $reader 2>/dev/null"
}

# The arrival time of the first event in FILE (of watch_record) after the
# time SINCE whose JSON passes the jq FILTER; with FIELD (a jq path), that
# field of it instead.
first_event_after() { # FILE SINCE FILTER [FIELD]
	local ts json
	while read -r ts json; do
		awk -v a="$ts" -v b="$2" 'BEGIN { exit !(a > b) }' || continue
		jq -e "$3" <<<"$json" >/dev/null 2>&1 || continue
		if [[ -n ${4:-} ]]; then jq -r "$4" <<<"$json"; else echo "$ts"; fi
		return 0
	done <"$1"
	return 1
}

# B - A in seconds, two decimals.
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
