#!/usr/bin/env bash
# Installs every Debian package vk needs to build and to run its tests.
# Idempotent: when nothing is missing it prints nothing and changes nothing.
#
#   scripts/install-deps.sh          build + test packages
#   scripts/install-deps.sh --build  only what the build needs
set -euo pipefail

build_pkgs=(
	liblua5.4-dev lua5.4 libcurl4-openssl-dev scdoc libcjson-dev libyaml-dev libuv1-dev zlib1g-dev
	libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev libhiredis-dev libssl-dev libh2o-dev
	meson ninja-build pkg-config gcc
	libnghttp2-dev dpkg-dev make # scripts/build-curl.sh
)
test_pkgs=(
	openssl containerd runc containernetworking-plugins busybox-static umoci
	debhelper fakeroot man-db
	iproute2 jq procps curl socat python3-h2 gnuplot-nox stress-ng clang-format shellcheck lua-check
	redis-server redis-tools docker-registry skopeo apache2-utils prometheus
	clang libclang-rt-14-dev valgrind
)

pkgs=("${build_pkgs[@]}")
[[ ${1:-} == --build ]] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "[deps] installing: ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# docker-registry's package starts a registry on :5000, and prometheus's a
# server on :9090, for the whole machine; the tests start their own registry
# on 127.0.0.1 and need only prometheus's promtool.
if [[ -d /run/systemd/system ]]; then
	for svc in docker-registry prometheus; do
		if [[ " ${missing[*]} " == *" $svc "* ]]; then
			$sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
		fi
	done
fi
