#!/usr/bin/env bash
# Builds what the suites run besides vk, once per machine (cached under
# ${XDG_CACHE_HOME:-~/.cache}/vk): the control plane and crictl
# (tests/cluster/build.sh) and, with --e2e, the e2e tests' Go peers
# (tests/e2e/peers/).  On a fresh machine this takes 10-20 minutes; with
# the cache filled it is a quick check.  Progress goes to stderr.
#
#   tests/prepare.sh [--e2e]
#
# tests/run.sh calls it before its first suite, so that no test waits for
# a build under its own time limit; tests/soak.sh calls it before it starts
# stress-ng.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=0
case ${1:-} in
--e2e) peers=1 ;;
'') ;;
*) echo "usage: $0 [--e2e]" >&2; exit 2 ;;
esac
"$root/tests/cluster/build.sh" >/dev/null
"$root/tests/cluster/build.sh" crictl >/dev/null
((peers)) || exit 0
for d in "$root"/tests/e2e/peers/*/; do
	[[ -f $d/go.mod ]] || continue
	"$root/tests/e2e/peers/build.sh" "$(basename "$d")" >/dev/null
done
