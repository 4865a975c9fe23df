#!/usr/bin/env bash
# The control plane (tests/cluster/up.sh) and containerd (containerd-up.sh)
# start and stop 20 times in a row while stress-ng --cpu 2 keeps both cores
# busy, with no failure: a process that is still starting is not taken for
# one that exited (issue 19), and after each round nothing is left running.
# VK_STRESS_ROUNDS changes the number of rounds.
# vk-test-timeout: 2400
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/../lib.sh"
rounds=${VK_STRESS_ROUNDS:-20}
command -v stress-ng >/dev/null || { echo "1..0 # SKIP stress-ng is not installed (scripts/install-deps.sh)"; exit 77; }
tap_plan $((rounds + 2))

tmp=""
tmp_dir tmp
dir=$tmp/c # one DIR for every round, as a developer re-running tests would
mkdir -p "$dir"
log=$tmp/round.log

# The load, started here and stopped by its PID (a child of this shell).
stress-ng --cpu 2 --quiet >"$tmp/stress.log" 2>&1 &
stress_pid=$!
stop_stress() {
	pid_alive "$stress_pid" || return 0
	kill -TERM "$stress_pid" 2>/dev/null || true
	wait "$stress_pid" 2>/dev/null || true
}
on_exit stop_stress
# Whatever a failed round left behind is stopped by the scripts, by PID.
on_exit "'$VK_CLUSTER/containerd-down.sh' '$dir' >/dev/null 2>&1; '$VK_CLUSTER/down.sh' '$dir' >/dev/null 2>&1"

# The PIDs recorded in DIR/pids ("PID:START" each) that are still alive.
recorded_alive() {
	local f pid
	for f in "$dir"/pids/*.pid; do
		[[ -f $f ]] || continue
		pid=$(cut -d: -f1 "$f")
		if pid_alive "$pid"; then echo "$(basename "$f" .pid)=$pid"; fi
	done
}

# One round: both up, both down, nothing recorded left alive.
round() {
	local pids=() f
	"$VK_CLUSTER/up.sh" "$dir" vk-stress-node || { echo "up.sh failed"; return 1; }
	"$VK_CLUSTER/containerd-up.sh" "$dir" || { echo "containerd-up.sh failed"; return 1; }
	for f in "$dir"/pids/*.pid; do pids+=("$(basename "$f" .pid)=$(cut -d: -f1 "$f")"); done
	((${#pids[@]} == 5)) || { echo "expected 5 recorded processes, got: ${pids[*]}"; return 1; }
	"$VK_CLUSTER/containerd-down.sh" "$dir" || { echo "containerd-down.sh failed"; return 1; }
	"$VK_CLUSTER/down.sh" "$dir" || { echo "down.sh failed"; return 1; }
	local left alive=()
	for left in "${pids[@]}"; do
		if pid_alive "${left#*=}"; then alive+=("$left"); fi
	done
	((${#alive[@]} == 0)) || { echo "still alive after down: ${alive[*]}"; return 1; }
	[[ -z $(recorded_alive) ]] || { echo "recorded and alive: $(recorded_alive)"; return 1; }
}

t_all=$SECONDS
for ((r = 1; r <= rounds; r++)); do
	t0=$SECONDS
	if round >"$log" 2>&1; then
		tap_pass "round $r of $rounds: control plane and containerd up and down, nothing left ($((SECONDS - t0)) s)"
	else
		tap_fail "round $r of $rounds: control plane and containerd up and down, nothing left" \
			"after $((SECONDS - t0)) s; the round's output (last 40 lines):" "$(tail -n 40 "$log")"
		# A failed round may leave processes: stop them before the next.
		"$VK_CLUSTER/containerd-down.sh" "$dir" >/dev/null 2>&1 || true
		"$VK_CLUSTER/down.sh" "$dir" >/dev/null 2>&1 || true
	fi
done
tap_diag "$rounds rounds in $((SECONDS - t_all)) s under stress-ng --cpu 2"

if pid_alive "$stress_pid"; then tap_pass "stress-ng ran through every round (pid $stress_pid)"
else tap_fail "stress-ng ran through every round" "$(cat "$tmp/stress.log")"; fi
stress_children=$(pgrep -P "$stress_pid" | tr '\n' ' ' || true)
stop_stress
left=()
for pid in $stress_children; do
	if pid_alive "$pid"; then left+=("stress-ng worker $pid"); fi
done
while read -r pid; do
	[[ -n $pid ]] && left+=("$pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)")
done < <(pgrep -f -- "$dir" || true)
tap_is "${left[*]}" "" "nothing is left running: no process naming DIR, stress-ng and its workers stopped"
tap_done
