#!/usr/bin/env bash
# The control plane of tests/cluster/up.sh is ready when up.sh returns, and
# the admin identity it writes can create a namespace.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/../lib.sh"
tap_plan 5

tmp=""
tmp_dir tmp
cluster_up "$tmp/cluster" || tap_bail "tests/cluster/up.sh failed"
tap_pass "up.sh starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler"

tap_is "$(curl_as admin "$APISERVER/readyz")" ok "/readyz of the API server is ok"
tap_is "$(kubectl_as admin get serviceaccount default -n default -o jsonpath='{.metadata.name}')" default \
	"the default ServiceAccount exists when up.sh returns"
tap_ok "admin.kubeconfig creates a namespace" kubectl_as admin create namespace vk-harness
tap_is "$(kubectl_as admin get namespace vk-harness -o jsonpath='{.status.phase}')" Active \
	"the new namespace is Active"
tap_done
