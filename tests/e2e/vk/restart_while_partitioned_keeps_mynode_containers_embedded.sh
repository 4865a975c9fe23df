#!/usr/bin/env bash
# vk restarted while cut off from the API server, with the embedded store: see
# restart_while_partitioned.bash.
set -euo pipefail
backend=embedded
source "$(dirname "$0")/restart_while_partitioned.bash"
