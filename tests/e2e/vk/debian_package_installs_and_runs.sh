#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# vk as an operator gets it: the Debian package is built from a copy of the
# tree (dpkg-buildpackage -b -us -uc), declares the curl source its libcurl
# was built from, is installed with dpkg -i, and then
# `vk --version` matches the package, `man -w` finds vk(1) and vk-lua(7),
# `systemd-analyze verify` accepts vk@NODE.service (it works without systemd
# as PID 1), and the installed /usr/bin/vk with `--provider mynode` (the
# installed /usr/share/vk/providers/mynode.lua) joins the test cluster and
# runs a pod in containerd.  The package is purged at the end.
#
# The machine is shared: installs of this test wait for each other (a lock
# in /run/lock), and a vk package installed by someone else is left alone
# (the test then skips what needs the install).
# vk-test-timeout: 2400
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 12
vk_setup node

# Build in a copy of the tree: dpkg-buildpackage writes into the tree and
# puts the .deb in its parent folder.  Not niced: the e2e tests start
# longest first, so this build is a run's critical path, and under
# stress-ng at nice 10 it took 14-16 minutes of a 27-minute run.
mkdir -p "$tmp/pkg/src"
(cd "$VK_ROOT" && git ls-files -co --exclude-standard | grep -v '^build' | tar -cf - -T -) | tar -xf - -C "$tmp/pkg/src"
if (cd "$tmp/pkg/src" && dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
	tap_pass "dpkg-buildpackage -b -us -uc builds the package"
else
	tap_fail "dpkg-buildpackage -b -us -uc builds the package" "$(tail -n 30 "$tmp/build.log")"
fi
deb=$(find "$tmp/pkg" -maxdepth 1 -name 'vk_*.deb' | head -1)
[[ -n $deb ]] || tap_bail "no vk_*.deb in $tmp/pkg"
version=$(cd "$tmp/pkg/src" && dpkg-parsechangelog -S Version)
tap_is "$(dpkg-deb -f "$deb" Version)" "$version" "the package's version is debian/changelog's"
# vk links the libcurl scripts/build-curl.sh builds from Debian's curl source:
# the package names that source, and depends on no libcurl package.
tap_is "$(dpkg-deb -f "$deb" Built-Using) $(dpkg-deb -f "$deb" Depends | grep -o 'libcurl[^,]*' || echo 'no libcurl')" \
	"curl (= $(dpkg-query -W -f='${source:Version}' libcurl4-openssl-dev)) no libcurl" \
	"Built-Using names the curl source of vk's libcurl, and Depends names no libcurl package"

exec {lock}>/run/lock/vk-debian-package-test.lock
flock -w 1800 "$lock" || tap_bail "another run of this test held the install lock for 30 minutes"
if dpkg-query -W -f='${Status}' vk 2>/dev/null | grep -q 'install ok installed'; then
	for d in "dpkg -i installs it" "vk --version" "man pages" "systemd-analyze verify" "installed files" \
		"node Ready" "provider path" "pod Running" "dpkg -r"; do
		tap_skip "$d" "a vk package is already installed on this machine by someone else; left alone"
	done
	tap_done
	exit 0
fi

# dpkg's lock is held by any apt or dpkg run on the machine: try again.
dpkg_retry() {
	local i out
	for ((i = 0; i < 60; i++)); do
		if out=$("$@" 2>&1); then return 0; fi
		grep -q 'lock' <<<"$out" || { echo "$out"; return 1; }
		sleep 2
	done
	echo "$out"
	return 1
}
on_exit "dpkg_retry dpkg --purge vk >/dev/null"
if out=$(dpkg_retry dpkg -i "$deb"); then tap_pass "dpkg -i installs it"; else tap_fail "dpkg -i installs it" "$out"; fi

tap_is "$(/usr/bin/vk --version)" "vk $version" "the installed vk --version prints the package's version"
tap_is "$(man -w vk 2>&1) $(man -w 7 vk-lua 2>&1)" \
	"/usr/share/man/man1/vk.1.gz /usr/share/man/man7/vk-lua.7.gz" "man -w finds vk(1) and vk-lua(7)"
# verify loads the unit file as systemd would (no systemd as PID 1 needed)
# and complains about unknown keys, bad values and a missing ExecStart binary.
unit=/lib/systemd/system/vk@.service
rc=0
out=$(systemd-analyze verify "/lib/systemd/system/vk@$node.service" 2>&1) || rc=$?
tap_is "$rc:$out" "0:" "systemd-analyze verify accepts vk@$node.service, without a word"
tap_is "$(grep -c '^Type=notify$\|^Restart=on-failure$\|^ProtectSystem=strict$' "$unit")" 3 \
	"the unit is Type=notify, Restart=on-failure, ProtectSystem=strict"

# The installed binary and the installed mynode, against the test cluster
# and a containerd of the test's own.
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"
mynode_config
VK_BIN=/usr/bin/vk vk_start vk "$node" mynode --provider-config "$tmp/mynode.yaml" --status-interval 1000
if wait_until 30 node_is "$node" True; then
	tap_pass "the installed vk with --provider mynode makes the node Ready"
else
	tap_fail "the installed vk with --provider mynode makes the node Ready" "$(vk_log_tail vk)"
fi
tap_ok "it runs the installed mynode.lua" grep -q 'provider /usr/share/vk/providers/mynode.lua ("mynode") loaded' "$tmp/vk.log"
pod_yaml web "$node" | k apply -f - >/dev/null
if wait_until 60 pod_is web Running; then
	tap_pass "a pod runs in containerd through the installed provider"
else
	tap_fail "a pod runs in containerd through the installed provider" "$(k -n "$ns" get pod web -o yaml | tail -20)" "$(vk_log_tail vk)"
fi
k -n "$ns" delete pod web --wait=true --timeout=60s >/dev/null 2>&1 || true
vk_stop "$vk_pid" || true

out=$(dpkg_retry dpkg --purge vk) || true
tap_ok "dpkg --purge removes it, and /usr/bin/vk with it" test ! -e /usr/bin/vk
tap_done
