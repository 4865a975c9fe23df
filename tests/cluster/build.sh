#!/usr/bin/env bash
# Builds the control plane the tests run against, once per version, into the
# user's cache folder, and prints the folder that holds the binaries.
#
#   tests/cluster/build.sh            -> prints e.g. ~/.cache/vk/cluster/k8s-v1.35.4-etcd-v3.6.16
#   tests/cluster/build.sh crictl     -> prints e.g. ~/.cache/vk/cri-tools-v1.34.0 (holds crictl)
#
# The versions are the ones pinned in tests/cluster/k8s/go.mod,
# tests/cluster/etcd/go.mod and tests/cluster/cri-tools/go.mod; change them
# there.  Progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# Two runs at once (parallel test sessions) would build into the same cache
# files: the second waits for the first, then finds the binaries built.
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/vk
mkdir -p "$cache_root"
exec 9>"$cache_root/build.lock"
flock 9

target=${1:-cluster}
case $target in
cluster | crictl) ;;
*) echo "usage: $0 [cluster|crictl]" >&2; exit 2 ;;
esac

required() { awk -v m="$2" '$1=="require" && $2==m {print $3}' "$here/$1/go.mod"; }

log() { echo "[build] $*" >&2; }

# Kubernetes v1.35 needs Go >= 1.25; Debian 12's golang-go (1.19) is too old,
# so the toolchain of the machine image (or GOTOOLCHAIN downloads through the
# module proxy) is used.  Say so plainly instead of failing deep in a build.
if ! command -v go >/dev/null; then
	log "no Go toolchain on PATH: the control plane is built from source with Go >= 1.25"
	exit 1
fi

# go build -v names each package as it compiles it: count them so a long,
# silent build shows that it moves.  A package path has no blank in it, so
# every other line is a message (compiler "#" headers and file.go:N: lines, or
# the go command's own "go: ..." errors) and is shown; module downloads are
# only counted.  Matching on words like "error" would echo packages such as
# k8s.io/apimachinery/pkg/util/errors.
progress() {
	local what=$1 n=0 start=$SECONDS
	while IFS= read -r line; do
		case $line in
		"go: downloading "*) ;;
		\#* | *.go:* | *" "*) echo "$line" >&2 ;;
		*) n=$((n + 1)); if ((n % 200 == 0)); then log "$what: $n packages compiled ($((SECONDS - start)) s)"; fi ;;
		esac
	done
}

gobuild() { # DIR OUT PKG LDFLAGS
	local dir=$1 out=$2 pkg=$3 ldflags=$4
	if [[ -x "$cache/$out" ]]; then return 0; fi
	log "building $out from $pkg (first run on this machine only)"
	local t0=$SECONDS
	if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -v -trimpath -ldflags "$ldflags" \
		-o "$cache/$out.tmp" "$pkg") 2>&1 | progress "$out" || [[ ! -x "$cache/$out.tmp" ]]; then
		log "build of $out failed"
		exit 1
	fi
	mv "$cache/$out.tmp" "$cache/$out"
	log "$out built in $((SECONDS - t0)) s"
}

if [[ $target == crictl ]]; then
	crictl_ver=$(required cri-tools sigs.k8s.io/cri-tools)
	cache=$cache_root/cri-tools-$crictl_ver
	mkdir -p "$cache"
	gobuild "$here/cri-tools" crictl sigs.k8s.io/cri-tools/cmd/crictl \
		"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_ver"
	echo "$cache"
	exit 0
fi

k8s_ver=$(required k8s k8s.io/kubernetes)
etcd_ver=$(required etcd go.etcd.io/etcd/server/v3)
cache=$cache_root/cluster/k8s-$k8s_ver-etcd-$etcd_ver
mkdir -p "$cache"

minor=$(echo "$k8s_ver" | cut -d. -f2)
kver="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_ver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
kver="$kver -X k8s.io/client-go/pkg/version.gitVersion=$k8s_ver -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

gobuild "$here/etcd" etcd go.etcd.io/etcd/server/v3 "-s -w"
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
	gobuild "$here/k8s" "$c" "k8s.io/kubernetes/cmd/$c" "$kver"
done
echo "$cache"
