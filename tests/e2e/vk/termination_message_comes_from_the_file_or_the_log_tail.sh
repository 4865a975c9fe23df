#!/usr/bin/env bash
# mynode's termination messages, as kubelet makes them:
# - what a container wrote to /dev/termination-log (a file bind-mounted
#   per container instance) becomes state.terminated.message;
# - a custom terminationMessagePath works the same;
# - the message is the file's last 4096 bytes;
# - FallbackToLogsOnError: a failed container with an empty file gets the
#   tail of its log (the last 80 lines, at most 2048 bytes); a container
#   that succeeded does not;
# - a container running as a non-root user can write the file (0666).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/mynode_pods.bash"
tap_plan 9
mynode_up

# shellcheck disable=SC2016 # the commands are the containers' shell's to expand
pod() { # NAME COMMAND [EXTRA YAML for the container]
	cat <<YAML
---
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  nodeName: NODE
  tolerations: TOL
  restartPolicy: Never
  containers:
  - name: c
    image: docker.io/library/busybox:1.35
    command: [sh, -c, '$2']
${3:-}
YAML
}
# shellcheck disable=SC2016 # the commands are the containers' shell's to expand
{
	pod msg-file 'printf "custom message" > /dev/termination-log; exit 3'
	pod msg-path 'printf "at my path" > /tmp/my-term' '    terminationMessagePath: /tmp/my-term'
	pod msg-big 'head -c 5000 /dev/zero | tr "\\0" a > /dev/termination-log; printf END >> /dev/termination-log'
	pod msg-fallback 'i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; done; exit 1' \
		'    terminationMessagePolicy: FallbackToLogsOnError'
	pod msg-fallback-short 'echo only line; exit 2' '    terminationMessagePolicy: FallbackToLogsOnError'
	pod msg-fallback-lines 'i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "l $i"; done; exit 1' \
		'    terminationMessagePolicy: FallbackToLogsOnError'
	pod msg-fallback-ok 'echo all good' '    terminationMessagePolicy: FallbackToLogsOnError'
	pod msg-nonroot 'printf "from uid $(id -u)" > /dev/termination-log; exit 4' '    securityContext: {runAsUser: 1000}'
} | apply

msg() { jp "$1" '{.status.containerStatuses[0].state.terminated.message}'; }
done_() { for p in msg-file msg-path msg-big msg-fallback msg-fallback-short msg-fallback-lines msg-fallback-ok msg-nonroot; do
	[[ $(jp "$p" '{.status.phase}') =~ ^(Succeeded|Failed)$ ]] || return 1
done; }
wait_until 120 done_ || tap_fail "every pod ends" "$(k -n "$ns" get pods)" "$(vk_log_tail vk)"
tap_is "$(msg msg-file):$(jp msg-file '{.status.containerStatuses[0].state.terminated.exitCode}')" "custom message:3" \
	"/dev/termination-log becomes the terminated state's message"
tap_is "$(msg msg-path)" "at my path" "a custom terminationMessagePath works the same"
big=$(msg msg-big)
tap_is "${#big}:${big: -5}" "4096:aaEND" "the message is the file's last 4096 bytes"
fb=$(msg msg-fallback)
tap_like "$(msg msg-fallback | wc -c):$(tail -n1 <<<"$fb")" "^2048:line 100 x+$" \
	"FallbackToLogsOnError: a failed container's log tail, capped at 2048 bytes"
tap_is "$(msg msg-fallback-short)" "only line" "FallbackToLogsOnError: a short log is the whole message"
fl=$(msg msg-fallback-lines)
tap_is "$(wc -l <<<"$fl"):$(head -n1 <<<"$fl"):$(tail -n1 <<<"$fl")" "80:l 21:l 100" \
	"FallbackToLogsOnError: at most the last 80 lines"
tap_is "$(msg msg-fallback-ok)" "" "FallbackToLogsOnError: no log tail for a container that succeeded"
tap_is "$(msg msg-nonroot)" "from uid 1000" "a container running as a non-root user writes its message too"
k -n "$ns" delete pod --all --wait=false >/dev/null
if wait_until 90 no_sandbox_left; then tap_pass "deleting the pods leaves no sandbox"
else tap_fail "deleting the pods leaves no sandbox" "$(cri pods)"; fi
tap_done
