#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stops what store-up.sh started in DIR, by PID: both stores, or the ones
# named.  Their data stays under DIR (store-up.sh brings them back with it).
#
#   tests/cluster/store-down.sh DIR [redis|etcd ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prog=store-down # read by log() in common.sh
(($# >= 1)) || { echo "usage: $0 DIR [redis|etcd ...]" >&2; exit 2; }
[[ -d $1 ]] || exit 0
dir=$(cd "$1" && pwd)
shift
what=("$@")
((${#what[@]})) || what=(redis etcd)
# shellcheck source=common.sh
source "$here/common.sh"

names=()
for w in "${what[@]}"; do
	case $w in
	redis) names+=(redis) ;;
	etcd) names+=(store-etcd) ;;
	*) echo "usage: $0 DIR [redis|etcd ...]" >&2; exit 2 ;;
	esac
done
stop_procs "${names[@]}"
