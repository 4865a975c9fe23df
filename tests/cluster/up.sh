#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Starts a real, local Kubernetes control plane for tests, all on 127.0.0.1:
# etcd, kube-apiserver (Node,RBAC authorization + NodeRestriction admission),
# kube-controller-manager and kube-scheduler.
#
#   tests/cluster/up.sh DIR [NODE ...]
#
# Writes into DIR:
#   admin.kubeconfig        cluster admin (group system:masters)
#   NODE.kubeconfig         per NODE: user system:node:NODE, group system:nodes
#   pki/                    the CA and every key and certificate (openssl)
#   env                     shell variables for tests: KUBECTL, APISERVER, BIN, ...
#   pids/NAME.pid, logs/NAME.log   per process
# Returns once /readyz is ok and the "default" ServiceAccount exists.
#
# Options, from the environment (the defaults are what other tests rely on):
#   VK_NODE_GRACE=20s      the controller-manager's --node-monitor-grace-period
#   VK_AUDIT=1             an API audit log in DIR/logs/audit.log (JSON lines):
#                          pod create/delete and pods/eviction at Metadata level,
#                          with the user; tests/cluster/audit-pods.sh reads it
#   VK_EVICT_AFTER=SECONDS the tolerationSeconds the API server gives pods for
#                          node.kubernetes.io/unreachable and not-ready (default
#                          300): a partitioned node's pods are evicted that long
#                          after the node is marked unreachable
# tests/cluster/down.sh DIR stops it all again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog=up # read by log() in common.sh
(($# >= 1)) || { echo "usage: $0 DIR [NODE ...]" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
shift
nodes=("$@")
# shellcheck source=common.sh
source "$here/common.sh"

for n in "${nodes[@]}"; do
	[[ $n =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || { log "bad node name: $n"; exit 2; }
done
if id=$(recorded_id kube-apiserver) && pid_is_ours "$id"; then
	log "a control plane already runs in $dir; run down.sh first"
	exit 1
fi

bin=$("$here/build.sh")
t0=$(date +%s.%N)
pki=$dir/pki
mkdir -p "$pki" "$dir/logs" "$dir/pids"
rm -rf "$dir/etcd"

# On any failure, stop what this run started and leave nothing behind.
ok=0
on_exit() {
	((ok)) && return 0
	log "start-up failed; stopping what was started"
	"$here/down.sh" "$dir" >/dev/null 2>&1 || true
}
trap on_exit EXIT
trap "exit 130" INT
trap "exit 143" TERM

# ---- certificates -------------------------------------------------------
ossl() { openssl "$@" 2>>"$dir/logs/openssl.log"; }

newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# Signs a certificate for SUBJECT with the test CA (or the CA named by
# $signer).  KIND is client or server; SANS (server only) is an openssl
# subjectAltName value.
mkcert() { # NAME SUBJECT KIND [SANS]
	local name=$1 subj=$2 kind=$3 sans=${4:-} ca=${signer:-ca} ext
	ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment"
	if [[ $kind == server ]]; then
		ext+=$'\n'"extendedKeyUsage=serverAuth"$'\n'"subjectAltName=$sans"
	else
		ext+=$'\n'"extendedKeyUsage=clientAuth"
	fi
	newkey "$pki/$name.key"
	ossl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr"
	ossl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 3650 -extfile <(echo "$ext") \
		-out "$pki/$name.crt"
	rm -f "$pki/$name.csr"
}

mkca() { # NAME CN
	newkey "$pki/$1.key"
	ossl req -x509 -new -key "$pki/$1.key" -subj "/CN=$2" -days 3650 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$pki/$1.crt"
}

if [[ ! -f $pki/sa.pub ]]; then
	mkca ca vk-test-ca
	lo_sans="IP:127.0.0.1,DNS:localhost"
	mkcert apiserver "/CN=kube-apiserver" server \
		"$lo_sans,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	mkcert serving "/CN=localhost" server "$lo_sans"
	mkcert admin "/O=system:masters/CN=vk-admin" client
	mkcert controller-manager "/CN=system:kube-controller-manager" client
	mkcert scheduler "/CN=system:kube-scheduler" client
	# The API server's identity towards kubelets (here: vk's own server).
	mkcert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
	# The request-header (front proxy) CA: controller-manager and scheduler
	# read it from the API server for delegated authentication.
	mkca front-proxy-ca vk-test-front-proxy-ca
	signer=front-proxy-ca mkcert front-proxy-client "/CN=front-proxy-client" client
	ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key"
	ossl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
fi
for n in "${nodes[@]}"; do
	[[ -f $pki/node-$n.crt ]] && continue
	mkcert "node-$n" "/O=system:nodes/CN=system:node:$n" client
	# A serving certificate a kubelet on NODE would show (127.0.0.1 only).
	mkcert "node-$n-serving" "/O=system:nodes/CN=system:node:$n" server "IP:127.0.0.1,DNS:localhost,DNS:$n"
done

# ---- ports ---------------------------------------------------------------
# Each port is picked as late as it can be: another process on the machine
# may take a port between the pick and the bind (kube-controller-manager
# once found its port taken after the API server's minutes of start-up).
etcd_port='' etcd_peer_port='' api_port='' kcm_port='' sched_port=''
free_port_to etcd_port
free_port_to etcd_peer_port
free_port_to api_port
apiserver=https://127.0.0.1:$api_port

kubeconfig() { # FILE USER CERTNAME
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: vk-test
  cluster:
    server: $apiserver
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$pki/$3.crt")
    client-key-data: $(b64 "$pki/$3.key")
contexts:
- name: vk-test
  context:
    cluster: vk-test
    user: $2
current-context: vk-test
EOF
	chmod 600 "$1"
}
kubeconfig "$dir/admin.kubeconfig" vk-admin admin
kubeconfig "$dir/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
kubeconfig "$dir/scheduler.kubeconfig" system:kube-scheduler scheduler
for n in "${nodes[@]}"; do
	kubeconfig "$dir/$n.kubeconfig" "system:node:$n" "node-$n"
done

# ---- kubectl: the machine's if within one minor version, else ours ------
k8s_minor=$("$bin/kube-apiserver" --version | sed -E 's/.* v1\.([0-9]+).*/\1/')
kubectl=$bin/kubectl
if sys=$(command -v kubectl) && [[ $sys != "$bin/kubectl" ]]; then
	sys_minor=$("$sys" version --client -o json 2>/dev/null | sed -nE 's/.*"minor": *"([0-9]+).*/\1/p' | head -1)
	if [[ -n $sys_minor ]] && ((sys_minor >= k8s_minor - 1 && sys_minor <= k8s_minor + 1)); then
		kubectl=$sys
	fi
fi

# ---- etcd ----------------------------------------------------------------
log "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler"
start_proc etcd "$bin/etcd" --name vk-test --data-dir "$dir/etcd" \
	--listen-client-urls "http://127.0.0.1:$etcd_port" \
	--advertise-client-urls "http://127.0.0.1:$etcd_port" \
	--listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	--initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	--initial-cluster "vk-test=http://127.0.0.1:$etcd_peer_port" \
	--unsafe-no-fsync --log-level warn
wait_for etcd 30 curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"

# ---- kube-apiserver ------------------------------------------------------
api_opts=()
if [[ ${VK_AUDIT:-0} == 1 ]]; then
	# Only what a test counts: who created and deleted which pods.  One JSON
	# line per request, written before the response goes out (blocking mode).
	cat >"$dir/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, delete, deletecollection]
  resources:
  - group: ""
    resources: [pods, pods/eviction]
- level: None
EOF
	api_opts+=(--audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/logs/audit.log"
		--audit-log-format json --audit-log-mode blocking)
fi
if [[ -n ${VK_EVICT_AFTER:-} ]]; then
	[[ $VK_EVICT_AFTER =~ ^[0-9]+$ ]] || { log "VK_EVICT_AFTER: not a number of seconds: $VK_EVICT_AFTER"; exit 2; }
	api_opts+=(--default-unreachable-toleration-seconds "$VK_EVICT_AFTER"
		--default-not-ready-toleration-seconds "$VK_EVICT_AFTER")
fi
# It calls kubelets (vk's kubelet API: logs, exec) as apiserver-kubelet-client,
# at their InternalIP first: node names do not resolve here.
start_proc kube-apiserver "$bin/kube-apiserver" \
	--etcd-servers "http://127.0.0.1:$etcd_port" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
	--endpoint-reconciler-type none \
	--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
	--client-ca-file "$pki/ca.crt" \
	--authorization-mode Node,RBAC \
	--enable-admission-plugins NodeRestriction \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$pki/sa.pub" \
	--service-account-signing-key-file "$pki/sa.key" \
	--service-cluster-ip-range 10.0.0.0/24 \
	--kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
	--kubelet-client-key "$pki/apiserver-kubelet-client.key" \
	--kubelet-preferred-address-types InternalIP,Hostname \
	--requestheader-client-ca-file "$pki/front-proxy-ca.crt" \
	--requestheader-allowed-names front-proxy-client \
	--requestheader-username-headers X-Remote-User \
	--requestheader-group-headers X-Remote-Group \
	--requestheader-extra-headers-prefix X-Remote-Extra- \
	--proxy-client-cert-file "$pki/front-proxy-client.crt" \
	--proxy-client-key-file "$pki/front-proxy-client.key" \
	--allow-privileged=true --profiling=false \
	--cert-dir "$dir/pki/apiserver-certs" "${api_opts[@]}"

admin_curl() {
	curl -sf --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$@"
}
wait_for kube-apiserver "${VK_APISERVER_WAIT:-90}" admin_curl "$apiserver/readyz"

# ---- controller-manager and scheduler -------------------------------------
free_port_to kcm_port
free_port_to sched_port
start_proc kube-controller-manager "$bin/kube-controller-manager" \
	--kubeconfig "$dir/controller-manager.kubeconfig" \
	--authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
	--authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port "$kcm_port" \
	--tls-cert-file "$pki/serving.crt" --tls-private-key-file "$pki/serving.key" \
	--client-ca-file "$pki/ca.crt" \
	--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
	--use-service-account-credentials=true \
	--cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
	--service-cluster-ip-range 10.0.0.0/24 --cluster-name vk-test \
	--controllers '*,-cloud-node-lifecycle-controller,-node-route-controller,-service-lb-controller' \
	--leader-elect=false --profiling=false \
	--node-monitor-period 2s --node-monitor-grace-period "${VK_NODE_GRACE:-20s}"
# (A node whose lease is older than the grace period goes NotReady; 20 s
# instead of the default 50 s keeps the tests that wait for it short.)
start_proc kube-scheduler "$bin/kube-scheduler" \
	--kubeconfig "$dir/scheduler.kubeconfig" \
	--authentication-kubeconfig "$dir/scheduler.kubeconfig" \
	--authorization-kubeconfig "$dir/scheduler.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port "$sched_port" \
	--tls-cert-file "$pki/serving.crt" --tls-private-key-file "$pki/serving.key" \
	--client-ca-file "$pki/ca.crt" \
	--leader-elect=false --profiling=false

serving_healthz() { curl -sf --max-time 2 --cacert "$pki/ca.crt" "https://127.0.0.1:$1/healthz"; }
wait_for kube-controller-manager 60 serving_healthz "$kcm_port"
wait_for kube-scheduler 60 serving_healthz "$sched_port"
wait_for kube-controller-manager 60 admin_curl "$apiserver/api/v1/namespaces/default/serviceaccounts/default"

# ---- what tests source ----------------------------------------------------
{
	printf 'CLUSTER_DIR=%q\n' "$dir"
	printf 'BIN=%q\n' "$bin"
	printf 'KUBECTL=%q\n' "$kubectl"
	printf 'APISERVER=%q\n' "$apiserver"
	printf 'ADMIN_KUBECONFIG=%q\n' "$dir/admin.kubeconfig"
	printf 'CA_CERT=%q\n' "$pki/ca.crt"
	printf 'ETCD=%q\n' "http://127.0.0.1:$etcd_port"
	printf 'NODES=%q\n' "${nodes[*]}"
} >"$dir/env"

ok=1
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "control plane ready at $apiserver in $took s (kubectl: $kubectl)"
