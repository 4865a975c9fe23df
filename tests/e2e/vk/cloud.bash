# shellcheck shell=bash
# shellcheck disable=SC2154 # tmp is assigned by name (tmp_dir, lib.sh)
# Helpers for providers/cloud.lua's tests: the cloud simulator
# (examples/cloud-sim), started by PID and stopped at exit, and the
# provider's config pointed at it.  Source after common.bash.

# cloud_sim_up [FLAGS...]: starts the simulator on a free port of
# 127.0.0.1; sets SIM_PORT and SIM_PID; stopped (by PID) at exit.
cloud_sim_up() {
	rm -f "$tmp/sim.port"
	printf 'sim-secret-%s\n' "$RANDOM$RANDOM" >"$tmp/sim.secret"
	python3 "$VK_ROOT/examples/cloud-sim/cloud_sim.py" --port 0 --port-file "$tmp/sim.port" \
		--access-key AKIDTEST --secret-key-file "$tmp/sim.secret" "$@" >>"$tmp/sim.log" 2>&1 &
	SIM_PID=$!
	on_exit "kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null"
	local i
	for ((i = 0; i < 150; i++)); do
		[[ -s $tmp/sim.port ]] && break
		pid_alive "$SIM_PID" || break
		sleep 0.2
	done
	[[ -s $tmp/sim.port ]] || tap_bail "the cloud simulator did not start: $(tail -5 "$tmp/sim.log")"
	SIM_PORT=$(<"$tmp/sim.port")
}

# sim GET-PATH: the simulator's debug endpoints (/debug/counts, /debug/instances).
sim() { curl -sf "http://127.0.0.1:$SIM_PORT$1"; }
# sim_set JSON: changes the simulator's settings while it runs.
sim_set() { curl -sf -X POST --data "$1" "http://127.0.0.1:$SIM_PORT/debug/config" >/dev/null; }
# sim_live: the instances not deleted, as JSON lines.
sim_live() { sim /debug/instances | jq -c '.Instances[] | select(.Deleted | not)'; }

# cloud_config [EXTRA_YAML]: writes $tmp/cloud.yaml (the example's spec
# table, the simulator's endpoint, fast polls) and the credentials file.
cloud_config() {
	printf 'access_key: AKIDTEST\nsecret_key: %s\n' "$(<"$tmp/sim.secret")" >"$tmp/cloud-credentials.yaml"
	chmod 600 "$tmp/cloud-credentials.yaml"
	sed -e "s|^endpoint:.*|endpoint: http://127.0.0.1:$SIM_PORT|" \
		-e "s|^credentials_file:.*|credentials_file: $tmp/cloud-credentials.yaml|" \
		-e "s|^cluster:.*|cluster: $ns|" "$VK_ROOT/examples/cloud.yaml" >"$tmp/cloud.yaml"
	printf 'node_ip: 127.0.0.1\n%s\n' "${1:-}" >>"$tmp/cloud.yaml"
}

# cloud_vk_start NAME NODE [ARGS...]: vk with providers/cloud.lua and $tmp/cloud.yaml.
cloud_vk_start() {
	vk_start "$1" "$2" "$VK_ROOT/providers/cloud.lua" --provider-config "$tmp/cloud.yaml" "${@:3}"
}
