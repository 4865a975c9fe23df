#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# vk's kubelet-serving certificate from the cluster, as kubelet's
# serverTLSBootstrap: without --tls-cert-file vk creates a
# CertificateSigningRequest (signer kubernetes.io/kubelet-serving, CN
# system:node:NAME, O system:nodes, the node's name and address as SANs)
# and serves a self-signed certificate, saying so in one line; a denied
# CSR is followed by a new one.  After
# `kubectl certificate approve` it serves the issued certificate (it
# verifies against the cluster CA for 127.0.0.1) without a restart, and a
# second kube-apiserver started with --kubelet-certificate-authority reaches
# it for `kubectl logs` (before the approval it refuses vk).  It renews the
# certificate with a new CSR (--server-cert-renew-after stands in for 70-90 %
# of a year), serving the old one until the new one is issued.  A restart
# serves the kept certificate from --cert-dir and asks for none.
# vk-test-timeout: 600
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 19
vk_setup node

pki=$CLUSTER_DIR/pki
signer=kubernetes.io/kubelet-serving

# A second API server on the same etcd that verifies kubelets with the
# cluster CA (the first one, shared by the suite, does not).
free_port_to api2_port || tap_bail "no free port"
"$BIN/kube-apiserver" --etcd-servers "$ETCD" \
	--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api2_port" \
	--endpoint-reconciler-type none \
	--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
	--client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
	--service-cluster-ip-range 10.0.0.0/24 \
	--kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
	--kubelet-client-key "$pki/apiserver-kubelet-client.key" \
	--kubelet-preferred-address-types InternalIP,Hostname \
	--kubelet-certificate-authority "$pki/ca.crt" \
	--profiling=false --cert-dir "$tmp/api2-certs" >"$tmp/apiserver2.log" 2>&1 &
api2_pid=$!
on_exit "kill -TERM $api2_pid 2>/dev/null; wait $api2_pid 2>/dev/null || true"
k2() { k --server "https://127.0.0.1:$api2_port" "$@"; }

my_csrs() { # the names of the node's kubelet-serving CSRs
	k get csr -o json | jq -r --arg u "system:node:$node" --arg s "$signer" \
		'.items[] | select(.spec.username == $u and .spec.signerName == $s) | .metadata.name'
}
on_exit "my_csrs | xargs -r $KUBECTL --kubeconfig $ADMIN_KUBECONFIG delete csr >/dev/null 2>&1"
csr_count() { my_csrs | wc -l; }
csr_count_is() { [[ $(csr_count) == "$1" ]]; }
served() { # the serial of the certificate served on 127.0.0.1:PORT, if it verifies with the cluster CA
	openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.crt" -verify_ip 127.0.0.1 \
		-verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
serves_verified() { [[ -n $(served) ]]; }
serves_other_than() { local s; s=$(served) && [[ -n $s && $s != "$1" ]]; }

free_port_to port || tap_bail "no free port"
cat >"$tmp/mock.yaml" <<YAML
internal_ip: 127.0.0.1
log_text: "issued and verified\n"
YAML
vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" \
	--cert-dir "$tmp/vk-pki" --server-cert-renew-after 20s
wait_until 20 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
pod_yaml web "$node" | k apply -f - >/dev/null
wait_until 20 pod_is web Running || tap_bail "pod not Running"

wait_until 20 csr_count_is 1 || tap_bail "no CSR from $node: $(k get csr 2>&1 | tail -3)"
csr1=$(my_csrs)
tap_pass "vk without --tls-cert-file creates a CertificateSigningRequest ($csr1) for signer $signer"
req=$(k get csr "$csr1" -o jsonpath='{.spec.request}' | base64 -d)
tap_is "$(openssl req -noout -subject -nameopt compat <<<"$req")" "subject=/O=system:nodes/CN=system:node:$node" \
	"the request's subject is O system:nodes, CN system:node:$node"
sans=$(openssl req -noout -text <<<"$req" | grep -A1 'Subject Alternative Name' | tail -1 | tr -d ' ')
tap_is "$sans" "DNS:$node,IPAddress:127.0.0.1" "its SANs are the node's name and its InternalIP"
tap_is "$(k get csr "$csr1" -o jsonpath='{.spec.usages}')" '["digital signature","server auth"]' \
	"its usages are what the signer requires for an ECDSA key"
tap_is "$(grep -c "serving a self-signed certificate until CSR $csr1 (signer $signer" "$tmp/vk.log") \
$(grep -c 'serving with a self-signed certificate' "$tmp/vk.log")" "1 0" \
	"until it is issued, vk serves a self-signed certificate and says so in one line"
tap_is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$pki/ca.crt" "https://127.0.0.1:$port/healthz" \
	2>&1)" 000 "the self-signed certificate does not verify against the cluster CA"

admin_curl2() { curl -sf --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$@"; }
wait_until 180 admin_curl2 "https://127.0.0.1:$api2_port/readyz" || tap_bail "second kube-apiserver not ready: $(tail -5 "$tmp/apiserver2.log")"
out=$(k2 -n "$ns" logs web 2>&1) && rc=0 || rc=$?
if ((rc != 0)) && [[ $out == *"x509"* || $out == *"certificate"* ]]; then
	tap_pass "before the approval, an API server with --kubelet-certificate-authority refuses vk's certificate"
	tap_diag "kubectl logs: $out"
else
	tap_fail "before the approval, an API server with --kubelet-certificate-authority refuses vk's certificate" \
		"rc=$rc" "$out"
fi

# A denied CSR is followed by a new one (after a 2 s backoff).
k certificate deny "$csr1" >/dev/null
wait_until 30 csr_count_is 2 || tap_diag "no new CSR 30 s after the denial"
denied=$csr1
csr1=$(my_csrs | grep -vxF "$denied")
tap_is "$(csr_count) $(grep -c "WARN .*CSR $denied was denied: .*; a new CSR in" "$tmp/vk.log")" "2 1" \
	"a denied CSR is followed by a new one ($csr1), with one warning"
k certificate approve "$csr1" >/dev/null
wait_until 60 serves_verified || tap_diag "vk does not serve a verified certificate 60 s after the approval"
serial1=$(served)
tap_like "$serial1" "^serial=" "once approved and issued, vk serves a certificate that verifies against the cluster CA for 127.0.0.1 (no restart)"
tap_is "$(curl -s --max-time 10 --cacert "$pki/ca.crt" "https://127.0.0.1:$port/healthz" 2>&1)" ok \
	"curl --cacert with the cluster CA reaches /healthz"
tap_is "$(k2 -n "$ns" logs web 2>&1)" "issued and verified" \
	"kubectl logs through an API server that verifies kubelets with the cluster CA reaches vk"
tap_is "$(grep -c "serving the certificate the cluster issued (CSR $csr1" "$tmp/vk.log")" 1 "vk says it serves the issued certificate"
tap_is "$(stat -c '%a' "$tmp/vk-pki/vk-server-current.pem" 2>&1) $(openssl x509 -noout -serial -in "$tmp/vk-pki/vk-server-current.pem" 2>&1)" \
	"600 $serial1" "the certificate is kept in --cert-dir, readable by vk's user only"
tap_is "$(grep -c 'PRIVATE KEY-----' "$tmp/vk-pki/vk-server-current.pem")" 2 "with its key"

# Renewal: a new CSR; the old certificate is served until it is issued.
wait_until 60 csr_count_is 3 || tap_diag "no new CSR 60 s after the first certificate (renew after 20 s)"
csr2=$(my_csrs | grep -vxF -e "$denied" -e "$csr1")
tap_is "$(csr_count) $(grep -c "renewing it with CSR $csr2" "$tmp/vk.log")" "3 1" \
	"--server-cert-renew-after: vk asks for a new certificate with a new CSR"
tap_is "$(served)" "$serial1" "while the new CSR waits, the old certificate is still served"
k certificate approve "$csr2" >/dev/null
wait_until 60 serves_other_than "$serial1" || tap_diag "vk still serves $serial1 60 s after the second approval"
serial2=$(served)
tap_like "$serial2" "^serial=" "the renewed certificate is served and verifies ($serial1 -> $serial2)"
tap_is "$(k2 -n "$ns" logs web 2>&1)" "issued and verified" "kubectl logs through the verifying API server still works"

# Restart: the kept certificate is served again, no CSR is made.
vk_stop "$vk_pid" || tap_diag "vk did not stop cleanly"
before=$(csr_count)
kept=$(openssl x509 -noout -serial -in "$tmp/vk-pki/vk-server-current.pem")
vk_start vk "$node" "$VK_ROOT/providers/mock.lua" --provider-config "$tmp/mock.yaml" \
	--listen-address 127.0.0.1 --port "$port" --client-ca-file "$pki/ca.crt" --cert-dir "$tmp/vk-pki"
wait_until 20 serves_verified || tap_diag "the restarted vk serves no verified certificate"
wait_until 20 node_is "$node" True || tap_diag "node not Ready after the restart"
tap_is "$(served) $(csr_count)" "$kept $before" \
	"after a restart vk serves the certificate kept in --cert-dir at once and creates no CSR"
tap_done
