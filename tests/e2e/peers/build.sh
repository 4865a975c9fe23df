#!/usr/bin/env bash
# Builds a Go test peer of tests/e2e/peers/NAME/ once per version of its
# sources, as a static binary, and prints its path:
#
#   tests/e2e/peers/build.sh grpc-health
#
# The modules come from the Go module cache (filled by the control plane's
# build, tests/cluster/k8s, whose versions the peers pin), else from the
# module proxy.  Cached under ~/.cache/vk/peers/NAME-HASH/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if (($# != 1)) || [[ ! -f $here/$1/go.mod ]]; then
	echo "usage: $0 NAME (a folder of $here with a go.mod)" >&2
	exit 2
fi
src=$here/$1
hash=$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-12)
out=${XDG_CACHE_HOME:-$HOME/.cache}/vk/peers/$1-$hash
if [[ ! -x $out/$1 ]]; then
	mkdir -p "$out"
	echo "[peers] building $1 (once per version of its sources)" >&2
	# A file of this process's own: tests that run at once may build it together.
	(cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o "$out/$1.tmp.$$" .) >&2
	mv "$out/$1.tmp.$$" "$out/$1"
fi
echo "$out/$1"
