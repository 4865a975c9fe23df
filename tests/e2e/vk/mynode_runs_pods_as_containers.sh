#!/usr/bin/env bash
# providers/mynode.lua against a real containerd, its callbacks called as
# the core calls them (no cluster): Running pods with env, volumes and
# limits seen through ExecSync, init containers, CrashLoopBackOff,
# Succeeded/Failed, ErrImagePull, hostNetwork, logs, re-adoption after a
# restart, graceful delete.  The spec is tests/lua/mynode_spec.lua (vk test).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bin=${VK_BIN:-$VK_ROOT/build/vk}
[[ -x $bin ]] || tap_bail "no $bin (build first, or run tests/run.sh)"
tmp=""
tmp_dir tmp
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
rc=0
VK_CRI_ENDPOINT=$CRI_ENDPOINT BUSYBOX_IMAGE=$BUSYBOX_IMAGE TEST_TMP=$tmp \
	"$bin" test "$VK_ROOT/tests/lua/mynode_spec.lua" || rc=$?
exit $rc
