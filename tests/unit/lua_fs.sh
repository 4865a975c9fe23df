#!/bin/sh
# Runs tests/lua/fs_check.lua through lua_checks in a fresh folder.
set -eu
dir=$(mktemp -d /tmp/vk-fs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$1" "$2" dir="$dir"
