# Shared helpers for the end-to-end tests: TAP output, waiting, clean-up on
# exit, and starting the real control plane and containerd of tests/cluster/.
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   source "$(dirname "$0")/../lib.sh"
#   tap_plan 2
#   tmp_dir tmp
#   cluster_up "$tmp/cluster" node1 || tap_bail "control plane did not start"
#   tap_ok "admin can list nodes" kubectl_as admin get nodes
#   tap_is "$(kubectl_as admin get ns default -o jsonpath='{.status.phase}')" Active "default is active"
#   tap_done
#
# TAP goes to stdout; progress and diagnostics of the scripts go to stderr.
# Every clean-up registered with on_exit runs when the test exits, last
# registered first, also on failure and on Ctrl-C.
# shellcheck shell=bash

VK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VK_CLUSTER=$VK_ROOT/tests/cluster
# Every node a test (or a benchmark) starts registers InternalIP 127.0.0.1:
# vk's default is the host's first non-loopback address, which would have
# the API server reach the node there.  VKUBELET_POD_IP is --node-ip.
export VKUBELET_POD_IP=${VKUBELET_POD_IP:-127.0.0.1}

# ---- TAP ------------------------------------------------------------------
_tap_n=0
_tap_failed=0
_tap_planned=

tap_plan() { _tap_planned=$1; echo "1..$1"; }

# Prints each line of its arguments (or of stdin with no argument) as a
# TAP diagnostic.
tap_diag() {
	if (($#)); then printf '%s\n' "$@"; else cat; fi | sed 's/^/# /'
}

tap_pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }

# A failure shows its own diagnostics, then what the test registered as
# context (e.g. the tail of vk's log, see tap_context).
tap_fail() { # DESC [DIAG...]
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	(($#)) && tap_diag "$@"
	_tap_show_context
	return 0
}

# Registers a command (a string, run with eval) whose output is shown as
# diagnostics after every failed test, failed wait and bail-out: the tests
# of vk register the tail of vk's log (tests/e2e/vk/common.bash).
_tap_context=()
tap_context() {
	local c
	for c in "${_tap_context[@]}"; do [[ $c == "$*" ]] && return 0; done
	_tap_context+=("$*")
}
_tap_show_context() {
	local c
	for c in "${_tap_context[@]}"; do
		eval "$c" 2>&1 | tap_diag
	done
}

tap_skip() { # DESC REASON
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# Passes when CMD succeeds; on failure shows CMD's output.
tap_ok() { # DESC CMD...
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then tap_pass "$desc"; else tap_fail "$desc" "command: $*" "$out"; fi
}

# Passes when CMD fails (for "is refused" checks); shows its output if not.
tap_fails() { # DESC CMD...
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then tap_fail "$desc" "command unexpectedly succeeded: $*" "$out"; else tap_pass "$desc"; fi
}

tap_is() { # GOT WANT DESC
	if [[ $1 == "$2" ]]; then tap_pass "$3"; else tap_fail "$3" "got:  '$1'" "want: '$2'"; fi
}

tap_like() { # GOT ERE DESC
	if [[ $1 =~ $2 ]]; then tap_pass "$3"; else tap_fail "$3" "got:  '$1'" "want match of: $2"; fi
}

# Stops the test: the rest cannot run (e.g. the cluster did not start).
tap_bail() { echo "Bail out! $*"; _tap_show_context; exit 1; }

# Ends the test: prints the plan if none was given first, and exits non-zero
# when a test failed or the count differs from the plan.
tap_done() {
	if [[ -z $_tap_planned ]]; then
		echo "1..$_tap_n"
	elif ((_tap_n != _tap_planned)); then
		tap_diag "planned $_tap_planned tests but ran $_tap_n"
		exit 1
	fi
	((_tap_failed == 0)) || { tap_diag "$_tap_failed of $_tap_n failed"; exit 1; }
	exit 0
}

# ---- waiting --------------------------------------------------------------
# Runs CMD every VK_POLL seconds (0.2) until it succeeds; fails after
# TIMEOUT seconds (times VK_WAIT_SCALE, 1; 3 under valgrind, where a
# long wait such as a 200-pod churn's settling scales with vk's speed),
# but never before VK_WAIT_MIN seconds (30): every wait is
# for something that must happen, and a busy machine may take longer than
# the test's estimate, so a short TIMEOUT only ever makes a failure slow
# to come.  CMD runs in this shell (it may set variables).  When it
# gives up it says on stderr, as TAP diagnostics, what it waited for, how
# many tries, CMD's last exit status and output, and the registered context
# (vk's log as it was at that moment).
wait_until() { # TIMEOUT CMD...
	local limit=$(($1 * ${VK_WAIT_SCALE:-1})) deadline t0 tries=0 rc=0 out
	((limit >= ${VK_WAIT_MIN:-30})) || limit=${VK_WAIT_MIN:-30}
	t0=$(date +%s)
	deadline=$((t0 + limit))
	shift
	# One file per shell for CMD's output, named once: the main shell's is
	# also removed at exit, so a test stopped mid-wait leaves none behind.
	if [[ ${_wait_shell:-} != "$BASHPID" ]]; then
		_wait_out=$(mktemp "${TMPDIR:-/tmp}/vk-wait.XXXXXX")
		_wait_shell=$BASHPID
		[[ $BASHPID != "$$" ]] || on_exit "rm -f '$_wait_out'"
	fi
	out=$_wait_out
	while :; do
		tries=$((tries + 1))
		rc=0
		"$@" >"$out" 2>&1 || rc=$?
		((rc != 0)) || break
		if (($(date +%s) >= deadline)); then
			{
				echo "wait_until gave up after $(($(date +%s) - t0)) s (limit $limit s, $tries tries) waiting for: $*"
				echo "its last try exited $rc, saying:"
				tail -n 20 "$out"
			} | tap_diag >&2
			_tap_show_context >&2
			rm -f "$out"
			return 1
		fi
		sleep "${VK_POLL:-0.2}"
	done
	rm -f "$out"
}

# free_port_to VAR: a free TCP port on 127.0.0.1, never one this script
# picked before (tests/cluster/ports.sh).
# shellcheck source=../cluster/ports.sh
source "$VK_CLUSTER/ports.sh"

# True while PID is a live process (a zombie counts as gone).
pid_alive() { # PID
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# ---- clean-up on exit -----------------------------------------------------
_exit_cmds=()

# Registers a command line (a string, run with eval) to run at exit.
on_exit() { _exit_cmds+=("$*"); }

_run_exit_cmds() {
	local rc=$? i
	trap - EXIT
	for ((i = ${#_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_exit_cmds[i]}" >&2 || true
	done
	exit "$rc"
}
trap _run_exit_cmds EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Makes a fresh temporary folder, stores its path in the variable VAR, and
# removes it at exit (kept when VK_KEEP_TMP=1, for debugging).  Not called
# as $(tmp_dir): the exit hook must be registered in this shell.
tmp_dir() { # VAR
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/vk-e2e.XXXXXX")
	if [[ ${VK_KEEP_TMP:-0} == 1 ]]; then
		on_exit "echo 'kept $d' >&2"
	else
		on_exit "rm -rf '$d'"
	fi
	printf -v "$1" '%s' "$d"
}

# ---- the control plane ------------------------------------------------------
# Starts tests/cluster/up.sh DIR NODE... , registers its stop at exit and
# loads DIR/env (KUBECTL, APISERVER, ADMIN_KUBECONFIG, CA_CERT, BIN, ...).
cluster_up() { # DIR NODE...
	local d=$1
	mkdir -p "$d"
	d=$(cd "$d" && pwd)
	on_exit "cluster_down '$d'"
	"$VK_CLUSTER/up.sh" "$d" "${@:2}" || return 1
	# shellcheck source=/dev/null
	source "$d/env"
}

# Stops the control plane in DIR (default: the last one started).
cluster_down() { # [DIR]
	"$VK_CLUSTER/down.sh" "${1:-$CLUSTER_DIR}"
}

# kubectl as "admin" or as the node identity NODE of the last cluster_up.
kubectl_as() { # admin|NODE ARGS...
	local who=$1
	shift
	"$KUBECTL" --kubeconfig "$CLUSTER_DIR/$who.kubeconfig" "$@"
}

# curl to the API server as "admin" or NODE (certificate files in DIR/pki).
curl_as() { # admin|NODE ARGS...
	local who=$1 crt
	shift
	crt=$CLUSTER_DIR/pki/$who
	[[ $who == admin ]] || crt=$CLUSTER_DIR/pki/node-$who
	curl -s --max-time 10 --cacert "$CA_CERT" --cert "$crt.crt" --key "$crt.key" "$@"
}

# ---- a network namespace ---------------------------------------------------------
# Starts tests/cluster/netns-up.sh DIR APIPORT (a namespace with an address of
# its own, NETNS_IP, and the API server of the last cluster_up bridged to
# 127.0.0.1 inside), registers its stop at exit and loads DIR/netns.env
# (NETNS NETNS_IP NETNS_HOST_IP ...).  Run a command inside with in_netns.
# Stop what you started inside (by PID) before the exit handlers run, or
# register its stop after netns_up: handlers run last registered first.
netns_up() { # DIR
	local d=$1 port=${APISERVER##*:}
	mkdir -p "$d"
	d=$(cd "$d" && pwd)
	on_exit "netns_down '$d'"
	"$VK_CLUSTER/netns-up.sh" "$d" "$port" || return 1
	# shellcheck source=/dev/null
	source "$d/netns.env"
}

netns_down() { # [DIR]
	"$VK_CLUSTER/netns-down.sh" "${1:-$NETNS_DIR}"
}

in_netns() { ip netns exec "$NETNS" "$@"; }

# ---- containerd ---------------------------------------------------------------
# Starts tests/cluster/containerd-up.sh DIR, registers its stop at exit and
# loads DIR/containerd.env (CRI_SOCK, CRI_ENDPOINT, CRICTL, BUSYBOX_IMAGE, ...).
containerd_up() { # DIR
	local d=$1
	mkdir -p "$d"
	d=$(cd "$d" && pwd)
	on_exit "containerd_down '$d'"
	"$VK_CLUSTER/containerd-up.sh" "$d" || return 1
	# shellcheck source=/dev/null
	source "$d/containerd.env"
}

containerd_down() { # [DIR]
	"$VK_CLUSTER/containerd-down.sh" "${1:-$CONTAINERD_DIR}"
}

# crictl against the containerd of the last containerd_up.
cri() { "$CRICTL" --config "$CRICTL_CONFIG" "$@"; }
