#!/usr/bin/env bash
# Builds the two container images the tests use, once per machine, from
# Debian's busybox-static with umoci (no registry is reachable here), and
# prints the folder that holds them as OCI-layout tarballs:
#
#   busybox.tar  tag 1.35, cmd sh             -> docker.io/library/busybox:1.35
#   pause.tar    tag 3.9,  cmd sleep infinity -> registry.k8s.io/pause:3.9
#
# Import one with: ctr -n k8s.io images import --base-name NAME FILE
# (the tag comes from the layout).  Tags are not "latest" on purpose:
# Kubernetes would default imagePullPolicy to Always, and the pull must fail.
set -euo pipefail
recipe=1 # bump when the images below change, so caches rebuild
bb=$(command -v busybox)
bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || "$bb" | head -1 | cut -d' ' -f2)
out=${XDG_CACHE_HOME:-$HOME/.cache}/vk/images/busybox-${bbver//[^A-Za-z0-9.]/_}-r$recipe
if [[ -f $out/busybox.tar && -f $out/pause.tar ]]; then
	echo "$out"
	exit 0
fi
# Tests that run at once (tests/run.sh's e2e pool) may all find no images:
# one builds them, the others wait for it and find them built.
mkdir -p "$out"
exec 9>"$out.lock"
flock 9
if [[ -f $out/busybox.tar && -f $out/pause.tar ]]; then
	echo "$out"
	exit 0
fi
echo "[images] building busybox and pause images (first run on this machine only)" >&2
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

q() { "$@" >>"$work/log" 2>&1 || { cat "$work/log" >&2; return 1; }; }

# IMAGE TAG CMD...: a layout holding one image of busybox and its applets.
build() {
	local name=$1 tag=$2 layout=$work/$1 bundle=$work/$1-bundle a c
	shift 2
	q umoci init --layout "$layout"
	q umoci new --image "$layout:$tag"
	q umoci unpack --image "$layout:$tag" "$bundle"
	local root=$bundle/rootfs
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,var,proc,sys,dev}
	install -d -m 1777 "$root/tmp"
	install -m 755 "$bb" "$root/bin/busybox"
	for a in $("$bb" --list-full); do
		[[ $a == bin/busybox || -e $root/$a ]] || ln -s /bin/busybox "$root/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
	q umoci repack --image "$layout:$tag" "$bundle"
	local args=(--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	for c in "$@"; do args+=(--config.cmd "$c"); done
	q umoci config --image "$layout:$tag" "${args[@]}"
	q umoci gc --layout "$layout"
	tar -C "$layout" -cf "$out/$name.tar.tmp" .
	mv "$out/$name.tar.tmp" "$out/$name.tar"
}

build busybox 1.35 sh
build pause 3.9 sleep infinity
echo "$out"
