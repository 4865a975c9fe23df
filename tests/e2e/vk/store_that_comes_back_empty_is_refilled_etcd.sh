#!/usr/bin/env bash
# The etcd store restarted without its data while vk runs: vk writes what
# it knows again.  See store_comes_back_empty.bash.
set -euo pipefail
backend=etcd
source "$(dirname "$0")/store_comes_back_empty.bash"
