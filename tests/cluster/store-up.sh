#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Starts the real stores vk's tests use, on 127.0.0.1 at free ports:
# Debian's redis-server and a SECOND etcd (the binary build.sh makes; never
# the control plane's own etcd), each with its data under DIR so that a
# restart keeps it.
#
#   tests/cluster/store-up.sh DIR [redis|etcd ...]    (default: both)
#   tests/cluster/store-down.sh DIR [redis|etcd ...]
#
# Writes DIR/store.env: REDIS_PORT REDIS_URL STORE_ETCD_PORT STORE_ETCD_URL
# (a store already started once in DIR comes back on the same port, so a
# test can stop one and start it again under the same URL).
# PIDs in DIR/pids/{redis,store-etcd}.pid, logs in DIR/logs/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog=store-up # read by log() in common.sh
(($# >= 1)) || { echo "usage: $0 DIR [redis|etcd ...]" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
shift
what=("$@")
((${#what[@]})) || what=(redis etcd)
# shellcheck source=common.sh
source "$here/common.sh"

# port_of NAME VAR: the port NAME had in DIR, or a new free one, into VAR
# (in this shell, so that two new ones are never the same).
port_of() { # NAME VAR
	local f=$dir/$1.port p
	if [[ -f $f ]]; then
		p=$(cat "$f")
		# Only a listener makes it taken: the TIME_WAIT sockets a stopped
		# server leaves do not stop it from binding again (SO_REUSEADDR).
		if [[ -z $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
			picked_ports+="$p "
			printf -v "$2" '%s' "$p"
			return
		fi
	fi
	free_port_to p || return 1
	echo "$p" >"$f"
	printf -v "$2" '%s' "$p"
}

write_env() {
	local p
	: >"$dir/store.env"
	if [[ -f $dir/redis.port ]]; then
		p=$(cat "$dir/redis.port")
		printf 'REDIS_PORT=%q\nREDIS_URL=%q\n' "$p" "redis://127.0.0.1:$p" >>"$dir/store.env"
	fi
	if [[ -f $dir/store-etcd.port ]]; then
		p=$(cat "$dir/store-etcd.port")
		printf 'STORE_ETCD_PORT=%q\nSTORE_ETCD_URL=%q\n' "$p" "etcd://127.0.0.1:$p" >>"$dir/store.env"
	fi
}

port='' peer=''
for w in "${what[@]}"; do
	case $w in
	redis)
		if id=$(recorded_id redis) && pid_is_ours "$id"; then
			log "redis already runs in $dir"
			continue
		fi
		command -v redis-server >/dev/null || { log "redis-server is not installed (scripts/install-deps.sh)"; exit 1; }
		port_of redis port
		mkdir -p "$dir/redis"
		start_proc redis redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/redis" \
			--appendonly yes --save '' --daemonize no --protected-mode yes
		wait_for redis 20 redis-cli -h 127.0.0.1 -p "$port" ping
		;;
	etcd)
		if id=$(recorded_id store-etcd) && pid_is_ours "$id"; then
			log "the store's etcd already runs in $dir"
			continue
		fi
		bin=$("$here/build.sh")
		port_of store-etcd port
		port_of store-etcd-peer peer
		start_proc store-etcd "$bin/etcd" --name vk-store --data-dir "$dir/store-etcd" \
			--listen-client-urls "http://127.0.0.1:$port" \
			--advertise-client-urls "http://127.0.0.1:$port" \
			--listen-peer-urls "http://127.0.0.1:$peer" \
			--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
			--initial-cluster "vk-store=http://127.0.0.1:$peer" \
			--log-level warn
		wait_for store-etcd 30 curl -sf --max-time 2 "http://127.0.0.1:$port/health"
		;;
	*)
		echo "usage: $0 DIR [redis|etcd ...]" >&2
		exit 2
		;;
	esac
done
write_env
