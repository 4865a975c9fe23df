#!/usr/bin/env bash
# containerd from tests/cluster/containerd-up.sh answers the CRI, and a
# busybox container run through the CRI (pod sandbox, then container) prints
# a line that lands in its CRI log file.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/../lib.sh"
tap_plan 8

tmp=""
tmp_dir tmp
containerd_up "$tmp/cri" || tap_bail "tests/cluster/containerd-up.sh failed"

# RuntimeService/Version as a raw gRPC call: an empty request message is a
# 5-byte frame (flag 0, length 0); the status comes back as a trailer.
curl -s --max-time 5 --http2-prior-knowledge --unix-socket "$CRI_SOCK" \
	-H 'content-type: application/grpc' -H 'te: trailers' \
	--data-binary @<(printf '\0\0\0\0\0') -D "$tmp/version.headers" -o "$tmp/version.body" \
	http://localhost/runtime.v1.RuntimeService/Version || true
tap_is "$(tr -d '\r' <"$tmp/version.headers" | sed -n 's/^grpc-status: //p')" 0 \
	"CRI Version over gRPC answers with grpc-status 0"
tap_is "$(cri version 2>/dev/null | awk '/^Runtime(Name|ApiVersion):/ { printf "%s%s", sep, $2; sep = " " }')" "containerd v1" \
	"crictl version names runtime containerd, CRI API v1"

uid=$(cat /proc/sys/kernel/random/uuid)
line="hello from busybox $uid"
logdir=$POD_LOG_DIR/busybox-$uid
cat >"$tmp/pod.json" <<JSON
{ "metadata": { "name": "busybox", "namespace": "vk-harness", "uid": "$uid", "attempt": 0 },
  "hostname": "busybox", "log_directory": "$logdir", "linux": {} }
JSON
cat >"$tmp/ctr.json" <<JSON
{ "metadata": { "name": "echo", "attempt": 0 },
  "image": { "image": "$BUSYBOX_IMAGE" },
  "command": [ "sh", "-c", "echo '$line'" ],
  "log_path": "echo/0.log", "linux": {} }
JSON

if pod=$(cri runp "$tmp/pod.json" 2>"$tmp/runp.err"); then
	tap_pass "RunPodSandbox starts a sandbox from the local pause image"
else
	tap_fail "RunPodSandbox starts a sandbox from the local pause image" "$(cat "$tmp/runp.err")"
	tap_bail "no sandbox"
fi
ip=$(cri inspectp "$pod" 2>/dev/null | jq -r '.status.network.ip')
prefix=${POD_SUBNET%.0/24}
tap_like "$ip" "^${prefix//./\\.}\.[0-9]+$" "the sandbox gets an IP from the CNI bridge's $POD_SUBNET"

if ctr=$(cri create "$pod" "$tmp/ctr.json" "$tmp/pod.json" 2>"$tmp/create.err") &&
	cri start "$ctr" >/dev/null 2>>"$tmp/create.err"; then
	tap_pass "CreateContainer and StartContainer run busybox"
else
	tap_fail "CreateContainer and StartContainer run busybox" "$(cat "$tmp/create.err")"
	tap_bail "no container"
fi

# shellcheck disable=SC2317 # called through wait_until
exited() { [[ $(cri inspect "$ctr" 2>/dev/null | jq -r '.status.state') == CONTAINER_EXITED ]]; }
if wait_until 20 exited; then
	tap_is "$(cri inspect "$ctr" | jq -r '.status.exitCode')" 0 "the container exits with code 0"
else
	tap_fail "the container exits with code 0" "state: $(cri inspect "$ctr" 2>&1 | jq -r '.status.state')"
fi

# CRI log format: RFC 3339 time, stream, P(artial)/F(ull), text.
log_file=$logdir/echo/0.log
got=$(grep -F "$line" "$log_file" 2>/dev/null || true)
tap_like "$got" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) stdout F $line\$" \
	"the echoed line is read back from the container's CRI log file"

cri stopp "$pod" >/dev/null 2>&1 || true
cri rmp "$pod" >/dev/null 2>&1 || true
tap_is "$(cri pods -q 2>&1)" "" "StopPodSandbox and RemovePodSandbox leave no sandbox"
tap_done
