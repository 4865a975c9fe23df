# Helpers for the edge-cache tests: a store of each kind, and a link to the
# API server the test can cut (tests/cluster/relay.py).
# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # tmp comes from vk_setup (common.bash); store_url is read by the sourcing test

# store_start BACKEND: sets $store_url for embedded, redis or etcd; a redis
# or etcd of the test's own is started (on 127.0.0.1, a free port) and
# stopped by PID at exit.
store_start() { # embedded|redis|etcd
	case $1 in
	embedded) store_url=embedded ;;
	redis | etcd)
		[[ -x $VK_CLUSTER/store-up.sh ]] || tap_bail "tests/cluster/store-up.sh is missing"
		on_exit "'$VK_CLUSTER/store-down.sh' '$tmp/stores' >/dev/null 2>&1"
		"$VK_CLUSTER/store-up.sh" "$tmp/stores" "$1" >&2 || tap_bail "tests/cluster/store-up.sh $1 failed"
		# shellcheck source=/dev/null
		source "$tmp/stores/store.env"
		if [[ $1 == redis ]]; then store_url=$REDIS_URL; else store_url=$STORE_ETCD_URL; fi
		;;
	*) tap_bail "unknown store backend $1" ;;
	esac
}

# store_relay_start: a relay from a free port to the API server; vk's kubeconfig
# for NODE pointing at it in $tmp/NODE-relay.kubeconfig; $relay_pid.
store_relay_start() { # NODE
	local api_port
	api_port=${APISERVER##*:}
	api_port=${api_port%%/*}
	python3 "$VK_CLUSTER/relay.py" "$api_port" >"$tmp/relay.port" 2>>"$tmp/relay.log" &
	relay_pid=$!
	on_exit "kill -TERM $relay_pid 2>/dev/null; wait $relay_pid 2>/dev/null"
	wait_until 10 test -s "$tmp/relay.port" || tap_bail "the relay did not start: $(cat "$tmp/relay.log")"
	relay_port=$(head -n1 "$tmp/relay.port")
	sed -E "s#server: https://127.0.0.1:[0-9]+#server: https://127.0.0.1:$relay_port#" \
		"$CLUSTER_DIR/$1.kubeconfig" >"$tmp/$1-relay.kubeconfig"
	grep -q "127.0.0.1:$relay_port" "$tmp/$1-relay.kubeconfig" || tap_bail "could not point the kubeconfig at the relay"
}
link_down() { kill -USR1 "$relay_pid"; }   # refused connections
link_up() { kill -USR2 "$relay_pid"; }

# vk_start_relayed NAME NODE PROVIDER ARGS...: vk_start with the relay's kubeconfig.
vk_start_relayed() {
	local name=$1 node=$2 provider=$3
	shift 3
	"$VK_BIN" --provider "$provider" --kubeconfig "$tmp/$node-relay.kubeconfig" --nodename "$node" \
		--port 0 "$@" >>"$tmp/$name.log" 2>&1 &
	printf -v "${name}_pid" '%s' $!
	on_exit "vk_stop $! && vk_sanitizers_quiet $! '$tmp/$name.log'"
}

# ---- reading the store back (redis or etcd; $backend, $ns, and $pfx, the
# node's prefix "node/NODE/", are the sourcing test's) ----------------------
# The keys under PREFIX in the store, one a line, sorted.
store_keys() { # PREFIX
	local p=$1 end
	case $backend in
	redis) redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern "$p*" | sort ;;
	etcd)
		# A prefix's range ends at the prefix with its last byte raised by
		# one: every prefix here ends in "/", and "0" follows "/".
		[[ $p == */ ]] || tap_bail "store_keys: $p does not end in /"
		end="${p%/}0"
		curl -sf --max-time 5 -X POST "http://127.0.0.1:$STORE_ETCD_PORT/v3/kv/range" \
			-d "{\"key\":\"$(printf '%s' "$p" | base64 -w0)\",\"range_end\":\"$(printf '%s' "$end" | base64 -w0)\",\"keys_only\":true}" |
			jq -r '.kvs[]?.key' | while read -r k; do base64 -d <<<"$k"; echo; done | sort
		;;
	esac
}
# The value of KEY as the store holds it (redis: the hash's "~v"; etcd: the
# value behind its 20-digit resourceVersion).
store_value() { # KEY
	case $backend in
	redis) redis-cli -h 127.0.0.1 -p "$REDIS_PORT" HGET "$1" '~v' ;;
	etcd)
		curl -sf --max-time 5 -X POST "http://127.0.0.1:$STORE_ETCD_PORT/v3/kv/range" \
			-d "{\"key\":\"$(printf '%s' "$1" | base64 -w0)\"}" | jq -r '.kvs[0].value // empty' | base64 -d | cut -c21-
		;;
	esac
}
# The pods the store holds records of, by name, on one line.
stored_pods() { store_keys "${pfx}pod/$ns/" | sed "s#^${pfx}pod/$ns/##" | xargs; }
pods_stored() { [[ $(stored_pods) == "$1" ]]; }
uid_of() { k -n "$ns" get pod "$1" -o jsonpath='{.metadata.uid}'; }
record_has_uid() { # POD
	local u
	u=$(uid_of "$1") && [[ -n $u ]] && [[ $(store_value "${pfx}pod/$ns/$1" | jq -r '.metadata.uid') == "$u" ]]
}

# ---- a store server the test kills and restarts ($backend) ----------------
# store_mock_vk PLAN WHAT: the TAP plan, a skip when redis-server is
# missing, then the test's node, its store, and vk with the mock provider
# on it, Ready; sets $url0 and $pfx ("node/NODE/").  vk's /metrics are on
# 127.0.0.1:$mport (pending_writes reads them).
store_mock_vk() { # PLAN WHAT
	tap_plan "$1"
	if [[ $backend == redis ]] && ! command -v redis-server >/dev/null; then
		tap_skip "$2 (redis)" "redis-server is not installed"
		tap_done
	fi
	vk_setup node
	store_start "$backend"
	url0=$store_url
	free_port_to mport || tap_bail "no free port"
	vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --store "$store_url" --metrics-addr "127.0.0.1:$mport"
	wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(vk_log_tail vk)"
	pfx="node/$node/"
}

# pending_writes: vk's vk_store_pending_writes (writes not yet committed).
pending_writes() {
	curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | awk '$1 == "vk_store_pending_writes" { print $2 }'
}

# store_kill: SIGKILL to the store server, by the PID store-up.sh recorded;
# returns once it is gone.
store_kill() {
	local name id spid
	case $backend in redis) name=redis ;; etcd) name=store-etcd ;; esac
	id=$(cat "$tmp/stores/pids/$name.pid")
	spid=${id%%:*}
	[[ $(cut -d' ' -f22 "/proc/$spid/stat" 2>/dev/null) == "${id#*:}" ]] || tap_bail "the $backend server ($id) is not running"
	kill -KILL "$spid"
	# shellcheck disable=SC2317 # called by wait_until
	_store_dead() { ! pid_alive "$spid"; }
	wait_until 30 _store_dead || tap_bail "the $backend server (pid $spid) did not die"
}

# store_wipe: removes the killed server's data folder (it comes back empty).
store_wipe() {
	case $backend in redis) rm -rf "${tmp:?}/stores/redis" ;; etcd) rm -rf "${tmp:?}/stores/store-etcd" ;; esac
}

# store_restart: the server started again, on the same port as before.
store_restart() {
	"$VK_CLUSTER/store-up.sh" "$tmp/stores" "$backend" >&2 || tap_bail "tests/cluster/store-up.sh $backend (again) failed"
	# shellcheck source=/dev/null
	source "$tmp/stores/store.env"
	if [[ $backend == redis ]]; then store_url=$REDIS_URL; else store_url=$STORE_ETCD_URL; fi
	[[ $store_url == "$url0" ]] || tap_bail "the $backend server came back at $store_url, not $url0"
}
