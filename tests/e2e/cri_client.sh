#!/usr/bin/env bash
# Runs tests/e2e/cri_client_test (the CRI client) against a containerd of its
# own, started and stopped with tests/cluster/containerd-{up,down}.sh.
#
#   tests/e2e/cri_client.sh TEST-BINARY [ARGS...]   (cri_client_test, cri_lua_test)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$1
skip() { echo "1..0 # SKIP $*"; exit 77; }
(($(id -u) == 0)) || skip "containerd needs root"
command -v containerd >/dev/null && command -v runc >/dev/null || skip "containerd/runc not installed"

tmp=$(mktemp -d /tmp/vk-cri.XXXXXX)
cleanup() {
	"$root/tests/cluster/containerd-down.sh" "$tmp/c" >&2 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
"$root/tests/cluster/containerd-up.sh" "$tmp/c" >&2
# shellcheck disable=SC1091
source "$tmp/c/containerd.env"
mkdir -p "$tmp/logs"
VK_CRI_ENDPOINT=$CRI_ENDPOINT BUSYBOX_IMAGE=$BUSYBOX_IMAGE LOG_DIR=$tmp/logs TEST_TMP=$tmp "$bin" "${@:2}"
