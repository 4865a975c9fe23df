#!/usr/bin/env bash
# `--provider NAME` (a bare name: no slash, no .lua) is the provider shipped
# with vk.  Run from the build folder of a source tree, vk takes the tree's
# providers/ whatever the current folder; a name vk does not ship is one
# line naming where it looked; a path is still a path.  (The installed case
# is debian_package_installs_and_runs.sh.)  No cluster needed.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 5
tmp_dir tmp
cd "$tmp"

rc=0; out=$("$VK_BIN" check mock 2>/dev/null) || rc=$?
tap_is "$rc:$out" "0:$VK_ROOT/providers/mock.lua: OK (provider \"mock\")" \
	"vk check mock, from another folder, loads the tree's providers/mock.lua"
rc=0; out=$("$VK_BIN" check mynode --provider-config "$VK_ROOT/examples/mynode.yaml" 2>/dev/null) || rc=$?
tap_is "$rc:$out" "0:$VK_ROOT/providers/mynode.lua: OK (provider \"mynode\")" \
	"vk check mynode loads providers/mynode.lua with its modules from providers/mynode/"
rc=0; out=$("$VK_BIN" check nosuch 2>&1) || rc=$?
tap_is "$rc:$out" "1:vk: --provider nosuch: vk ships no provider of that name (no $VK_ROOT/providers/nosuch.lua); give a path for a file" \
	"a name vk does not ship is one line saying where vk looked"
cp "$VK_ROOT/providers/mock.lua" "$tmp/mock.lua"
sed -i 's/^local P = { name = "mock" }$/local P = { name = "localmock" }/' "$tmp/mock.lua"
grep -q 'name = "localmock"' "$tmp/mock.lua" || tap_bail "providers/mock.lua has no line 'local P = { name = \"mock\" }' to rename"
rc=0; out=$("$VK_BIN" check mock.lua 2>/dev/null) || rc=$?
tap_is "$rc:$out" "0:mock.lua: OK (provider \"localmock\")" "mock.lua (with .lua) is the file in the current folder"
rc=0; out=$("$VK_BIN" check ./mock.lua 2>/dev/null) || rc=$?
tap_is "$rc:$out" "0:./mock.lua: OK (provider \"localmock\")" "./mock.lua (with a slash) is that file too"
tap_done
