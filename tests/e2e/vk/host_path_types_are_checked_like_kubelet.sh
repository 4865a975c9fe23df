#!/usr/bin/env bash
# hostPath volumes on mynode check their `type` as kubelet does: Directory,
# File, Socket, CharDevice and BlockDevice must be what they say;
# DirectoryOrCreate and FileOrCreate make what is missing.  A failed check
# is kubelet's FailedMount Warning ("hostPath type check failed: P is not
# a directory") and the pod does not start: it stays Pending, with no
# sandbox in the runtime.
set -euo pipefail
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/volumes.bash"
tap_plan 11
vk_setup node
mynode_up ""
hp=$tmp/hp
mkdir -p "$hp/dir"
echo content >"$hp/file"
block=$(find /dev -maxdepth 1 -type b | head -1)

hp_pod() { # NAME VOLUME_LINES MOUNT_LINES
	cat <<YAML | k create -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    command: [sleep, "3600"]
    volumeMounts:
$3
  volumes:
$2
YAML
}
hp_pod good "\
  - {name: d, hostPath: {path: $hp/dir, type: Directory}}
  - {name: dc, hostPath: {path: $hp/made/dir, type: DirectoryOrCreate}}
  - {name: f, hostPath: {path: $hp/file, type: File}}
  - {name: fc, hostPath: {path: $hp/newfile, type: FileOrCreate}}
  - {name: s, hostPath: {path: $CRI_SOCK, type: Socket}}
  - {name: c, hostPath: {path: /dev/null, type: CharDevice}}
  - {name: b, hostPath: {path: ${block:-/dev/null}, type: ${block:+BlockDevice}}}
  - {name: any, hostPath: {path: $hp/file}}" "\
    - {name: d, mountPath: /d}
    - {name: dc, mountPath: /dc}
    - {name: f, mountPath: /f}
    - {name: fc, mountPath: /fc}
    - {name: s, mountPath: /s}
    - {name: c, mountPath: /c}
    - {name: b, mountPath: /b}
    - {name: any, mountPath: /any}"
if wait_running good; then tap_pass "a pod whose hostPaths are what their types say runs"
else tap_fail "a pod whose hostPaths are what their types say runs" "$(pod_warnings good)" "$(vk_log_tail vk)"; fi
tap_is "$(stat -c '%F %a' "$hp/made/dir"):$(stat -c '%F %a %s' "$hp/newfile")" \
	"directory 755:regular empty file 644 0" "DirectoryOrCreate made a 0755 folder, FileOrCreate an empty 0644 file"
tap_is "$(in_pod good main cat /f)" content "File is mounted as the file"
tap_like "$(in_pod good main stat -c '%F' /s /c /b | tr '\n' ',')" "^socket,character special file,(block special file|character special file)," \
	"Socket, CharDevice and BlockDevice are mounted as what they are${block:+ (block device $block)}"

# NAME:PATH:TYPE:WHY for the pods whose check must fail.
bad=("dir-on-file:$hp/file:Directory:is not a directory"
	"file-on-dir:$hp/dir:File:is not a file"
	"socket-on-file:$hp/file:Socket:is not a socket file"
	"char-on-file:$hp/file:CharDevice:is not a character device"
	"block-on-file:$hp/file:BlockDevice:is not a block device"
	"missing-dir:$hp/none:Directory:is not a directory")
for spec in "${bad[@]}"; do
	IFS=: read -r name path type why <<<"$spec"
	hp_pod "$name" "  - {name: v, hostPath: {path: $path, type: $type}}" "    - {name: v, mountPath: /v}"
done
for spec in "${bad[@]}"; do
	IFS=: read -r name path type why <<<"$spec"
	want="FailedMount: MountVolume.SetUp failed for volume \"v\" : hostPath type check failed: $path $why"
	warned() { pod_warnings "$name" | grep -qxF "$want"; }
	if wait_until 30 warned; then tap_pass "type $type on $path: FailedMount '$why'"
	else tap_fail "type $type on $path: FailedMount '$why'" "$(pod_warnings "$name")"; fi
done
uid=$(k -n "$ns" get pod dir-on-file -o jsonpath='{.metadata.uid}')
tap_is "$(pod_phase dir-on-file):$(cri pods -q --label "io.kubernetes.pod.uid=$uid" | wc -l)" "Pending:0" \
	"a pod whose check fails stays Pending, with no sandbox"
tap_done
