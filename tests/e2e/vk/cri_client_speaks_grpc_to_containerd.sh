#!/usr/bin/env bash
# The C CRI client (src/cri) against a real containerd: every RPC vk uses,
# a busybox pod run to completion, ExecSync, label filters, errors with
# their gRPC code names, the 16 MiB cap, timeouts, wrong endpoints.  The
# TAP lines are those of tests/e2e/cri_client_test.c.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bin=${VK_BUILD:-$VK_ROOT/build}/tests/e2e/cri_client_test
[[ -x $bin ]] || tap_bail "no $bin (build first, or run tests/run.sh)"
tmp=""
tmp_dir tmp
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mkdir -p "$tmp/logs"
rc=0
VK_CRI_ENDPOINT=$CRI_ENDPOINT BUSYBOX_IMAGE=$BUSYBOX_IMAGE LOG_DIR=$tmp/logs TEST_TMP=$tmp "$bin" || rc=$?
exit $rc
