#!/usr/bin/env bash
# The etcd store killed in the middle of vk's run and started again: vk
# keeps working, then catches the store up.  See store_goes_away.bash.
set -euo pipefail
backend=etcd
source "$(dirname "$0")/store_goes_away.bash"
