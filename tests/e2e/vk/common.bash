# shellcheck disable=SC2154 # assigned by name: tmp by tmp_dir (lib.sh)
# Helpers for vk's end-to-end tests, on top of ../lib.sh.
#
# tests/run.sh starts one control plane for the whole e2e suite and passes
# it as VK_TEST_CLUSTER (with node identities e2e-1 ... e2e-201) and each
# test's VK_TEST_NODE_INDEX; run alone, a test starts a control plane of its
# own.  Each test works in its own namespace and with its own node name.
# shellcheck shell=bash

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VK_BIN=${VK_BIN:-$VK_ROOT/build/vk}
[[ -x $VK_BIN ]] || tap_bail "no vk binary at $VK_BIN (build first, or run tests/run.sh)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# vk_setup NODEVAR [NODEVAR...]: picks node names, makes the test's temp
# folder ($tmp) and namespace ($ns), and has a control plane ready.
vk_setup() {
	tmp_dir tmp
	local base=$((${VK_TEST_NODE_INDEX:-1} * 1)) i=0 v names=()
	for v in "$@"; do
		if [[ -n ${VK_TEST_CLUSTER:-} ]]; then
			# run.sh gives test i the identities e2e-i and, for a second node, e2e-(100+i).
			printf -v "$v" 'e2e-%d' $((base + i * 100))
		else
			printf -v "$v" 'node-%d' "$i"
		fi
		names+=("${!v}")
		i=$((i + 1))
	done
	if [[ -n ${VK_TEST_CLUSTER:-} ]]; then
		# shellcheck source=/dev/null
		source "$VK_TEST_CLUSTER/env"
	else
		cluster_up "$tmp/cluster" "${names[@]}" >&2 || tap_bail "control plane did not start"
	fi
	# The namespace is the temporary folder's random part in hex: mktemp's
	# letters have both cases, and keeping only the lower-case ones once
	# left "tvke2e" for two tests at once (AlreadyExists while deleting).
	ns=t$(printf %s "${tmp##*.}" | od -An -tx1 | tr -d ' \n')
	k create namespace "$ns" >/dev/null || tap_bail "cannot create namespace $ns"
	# Pods are refused until the controller-manager made the namespace's default ServiceAccount.
	wait_until 30 k -n "$ns" get serviceaccount default || tap_bail "no default ServiceAccount in $ns"
	on_exit "k delete namespace '$ns' --wait=false >/dev/null 2>&1"
	for v in "${names[@]}"; do
		on_exit "k delete node '$v' --wait=false >/dev/null 2>&1"
	done
}

k() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

# env_pod NAME ENV_YAML: applies a pod bound to $node in $ns whose one
# container has these env lines (indented for the container).
env_pod() {
	cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
$2
YAML
}

# Writes mynode's provider config for the containerd that containerd_up
# started (CRI_ENDPOINT) to $tmp/mynode.yaml: pod logs and folders under
# $tmp, InternalIP 127.0.0.1, a fast supervisor.
mynode_config() {
	cat >"$tmp/mynode.yaml" <<YAML
runtime_endpoint: $CRI_ENDPOINT
log_root: $tmp/podlogs
pod_root: $tmp/pods
node_ip: 127.0.0.1
sync_ms: 300
YAML
}

# vk_start NAME NODE PROVIDER [ARGS...]: starts vk as NODE, its PID in
# ${NAME}_pid and its log in $tmp/NAME.log; stopped at exit.  VK_KUBECONFIG
# replaces NODE's kubeconfig (e.g. one pointed at a relay).  With VK_NETNS
# set (e.g. to $NETNS after netns_up), vk runs in that network namespace.
vk_start() {
	local name=$1 node=$2 provider=$3 wrap=()
	shift 3
	[[ -z ${VK_NETNS:-} ]] || wrap=(ip netns exec "$VK_NETNS") # execs vk: $! stays vk's PID
	"${wrap[@]}" "$VK_BIN" --provider "$provider" --kubeconfig "${VK_KUBECONFIG:-$CLUSTER_DIR/$node.kubeconfig}" \
		--nodename "$node" \
		--port 0 --state-dir "$tmp/$name.state" "$@" >>"$tmp/$name.log" 2>&1 &
	printf -v "${name}_pid" '%s' $!
	tap_context "vk_log_context $name"
	on_exit "vk_stop $! && vk_sanitizers_quiet $! '$tmp/$name.log'"
}

# After vk stopped: a sanitizer report (ASan, LeakSanitizer, UBSan) in its
# log fails the test even when everything else passed.
vk_sanitizers_quiet() { # PID LOG
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$2" 2>/dev/null; then
		echo "not ok - vk (pid $1) reported a sanitizer error"
		grep -E -A25 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$2" | head -n 60 | tap_diag
		return 1
	fi
}

# Stops a vk by PID: SIGTERM, then SIGKILL after 10 s (VK_STOP_SECONDS:
# tests/run.sh --valgrind gives vk time for valgrind's leak check).  Returns
# vk's exit status.
vk_stop() {
	local pid=$1 i rc=0
	pid_alive "$pid" || { wait "$pid" 2>/dev/null || rc=$?; return $rc; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < ${VK_STOP_SECONDS:-10} * 10; i++)); do
		pid_alive "$pid" || break
		sleep 0.1
	done
	pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || rc=$?
	return $rc
}

node_ready() { # NODE -> True/False/Unknown
	k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null
}

pod_phase() { k -n "$ns" get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }

# Predicates for wait_until (evaluated on every try, unlike "$(...)" args).
node_is() { [[ $(node_ready "$1") == "$2" ]]; }        # NODE True|False
pod_is() { [[ $(pod_phase "$1") == "$2" ]]; }          # POD PHASE
pod_gone() { ! k -n "$ns" get pod "$1" >/dev/null 2>&1; }

# A pod bound straight to NODE that tolerates the provider taint.
pod_yaml() { # NAME NODE [IMAGE]
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns, labels: {app: $1}}
spec:
  nodeName: $2
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}]
  containers:
  - {name: main, image: ${3:-docker.io/library/busybox:1.35}, command: [sleep, "3600"]}
YAML
}

# Shows the end of a vk log as TAP diagnostics.
vk_log_tail() { tail -n "${2:-30}" "$tmp/$1.log" | tap_diag; }

# The context of a failure (lib.sh's tap_context): the last lines of the
# vk started as NAME, as they are now, headed with the time.
vk_log_context() { # NAME
	echo "--- last ${VK_CONTEXT_LINES:-15} lines of vk '$1' ($tmp/$1.log) at $(date -u +%H:%M:%S.%3N):"
	tail -n "${VK_CONTEXT_LINES:-15}" "$tmp/$1.log" 2>/dev/null
}
