#!/usr/bin/env bash
# vk.net.connect and vk.http.request{netns=}: the socket is made inside a
# network namespace (a thread enters it, makes the socket, hands it back),
# so 127.0.0.1 is that namespace's loopback.  The test makes its own
# namespace with three servers on its 127.0.0.1 (tests/e2e/peers/
# netns_servers.py) and runs tests/lua/net_check.lua through the real Lua
# host; nothing listens on those ports in the host's namespace.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bin=${VK_BUILD:-$VK_ROOT/build}/tests/unit/lua_checks
[[ -x $bin ]] || tap_bail "no $bin (build first, or run tests/run.sh)"
[[ $(id -u) == 0 ]] || { echo "1..0 # SKIP needs root (setns)"; exit 0; }
tmp=""
tmp_dir tmp
nsname=vknet$$
ip netns add "$nsname" || tap_bail "cannot make network namespace $nsname"
on_exit "ip netns del '$nsname' 2>/dev/null"
ip netns exec "$nsname" ip link set lo up
# Three ports that nothing in the host's namespace listens on.
ports=()
for p in $(shuf -i 20000-60000 -n 40); do
	[[ -z $(ss -Htln "sport = :$p") ]] && ports+=("$p")
	((${#ports[@]} == 3)) && break
done
((${#ports[@]} == 3)) || tap_bail "no free ports"
ip netns exec "$nsname" python3 "$VK_ROOT/tests/e2e/peers/netns_servers.py" "${ports[@]}" >"$tmp/servers.out" 2>&1 &
spid=$!
on_exit "kill $spid 2>/dev/null"
wait_until 20 grep -q ready "$tmp/servers.out" || tap_bail "servers did not start: $(cat "$tmp/servers.out")"
"$bin" "$VK_ROOT/tests/lua/net_check.lua" "netns=/run/netns/$nsname" "port=${ports[0]}" \
	"http_port=${ports[1]}" "closed_port=${ports[2]}"
