#!/usr/bin/env bash
# vk.cri through the real Lua host against a real containerd: a
# spec (tests/lua/cri_spec.lua, run by `vk test`) runs a pod's life and the
# error cases; one TAP line per `it`.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bin=${VK_BIN:-$VK_ROOT/build/vk}
[[ -x $bin ]] || tap_bail "no $bin (build first, or run tests/run.sh)"
tmp=""
tmp_dir tmp
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mkdir -p "$tmp/logs"
rc=0
VK_CRI_ENDPOINT=$CRI_ENDPOINT BUSYBOX_IMAGE=$BUSYBOX_IMAGE LOG_DIR=$tmp/logs TEST_TMP=$tmp \
	"$bin" test "$VK_ROOT/tests/lua/cri_spec.lua" || rc=$?
exit $rc
