#!/usr/bin/env bash
# Scenario 6 of the edge-autonomy issue: a malformed --store URL, an unknown
# scheme, an unreachable store and a corrupt SQLite file each stop vk at
# start-up with exit 2 and ONE line naming the URL or file and what is
# wrong; for the corrupt file the line also says how to recover, and doing
# what it says works.  A bad --state-key-file is named the same way, and
# without one vk says once that Secrets are not persisted.  No cluster
# needed (the API server in the kubeconfig is never reached first).
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 20
tmp_dir tmp

cat >"$tmp/kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
YAML
run_vk() { # ARGS... -> $rc, $out
	rc=0
	out=$(timeout 60 "$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --kubeconfig "$tmp/kubeconfig" \
		--nodename n1 --port 0 --no-reload "$@" 2>&1) || rc=$?
}

for url in 'redis://127.0.0.1' 'mysql://h:1' 'etcd://h:1/v3' 'redis://h:port'; do
	run_vk --store "$url" --state-dir "$tmp/s"
	tap_is "$rc:$(wc -l <<<"$out")" "2:1" "--store '$url': exit 2, one line ($out)"
	tap_like "$out" "--store '$url': " "the line names the URL"
done

run_vk --store 'redis://127.0.0.1:1'
tap_is "$rc:$(wc -l <<<"$out")" "2:1" "an unreachable redis: exit 2, one line ($out)"
tap_like "$out" "redis://127.0.0.1:1" "it names the URL"
run_vk --store 'etcd://127.0.0.1:1'
tap_is "$rc:$(wc -l <<<"$out")" "2:1" "an unreachable etcd: exit 2, one line ($out)"
tap_like "$out" "etcd://127.0.0.1:1" "it names the URL"

mkdir -p "$tmp/corrupt"
head -c 65536 /dev/urandom >"$tmp/corrupt/vk.db"
run_vk --state-dir "$tmp/corrupt"
tap_is "$rc:$(wc -l <<<"$out")" "2:1" "a corrupt vk.db: exit 2, one line ($out)"
tap_like "$out" "$tmp/corrupt/vk.db: .*corrupt.*move it aside.*rebuilds it from the API when online" \
	"it names the file and the recovery"
mv "$tmp/corrupt/vk.db" "$tmp/corrupt/vk.db.corrupt"

printf 'short\n' >"$tmp/key"
run_vk --state-dir "$tmp/corrupt" --state-key-file "$tmp/key"
tap_is "$rc:$(wc -l <<<"$out")" "2:1" "a bad key file: exit 2, one line ($out)"
tap_like "$out" "$tmp/key: not a 256-bit key" "it names the file"

# After moving the file aside (as the line says) vk starts; without a key
# file it says once that Secrets are not persisted.
"$VK_BIN" --provider "$VK_ROOT/providers/mock.lua" --kubeconfig "$tmp/kubeconfig" --nodename n1 \
	--port 0 --no-reload --state-dir "$tmp/corrupt" >>"$tmp/vk.log" 2>&1 &
vk_pid=$!
on_exit "vk_stop $vk_pid && vk_sanitizers_quiet $vk_pid '$tmp/vk.log'"
if wait_until 30 grep -q "Secrets are not persisted" "$tmp/vk.log"; then
	tap_pass "after the move vk starts on a new store"
else
	tap_fail "after the move vk starts on a new store" "$(tail -n 20 "$tmp/vk.log")"
fi
tap_ok "a new vk.db was made" test -s "$tmp/corrupt/vk.db"
tap_is "$(grep -c 'Secrets are not persisted' "$tmp/vk.log")" 1 "the Secrets line comes once"
tap_ok "vk is still running" pid_alive "$vk_pid"
tap_done
