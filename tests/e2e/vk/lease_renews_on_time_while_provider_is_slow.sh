#!/usr/bin/env bash
# The Lease in kube-node-lease: owned by the Node, 40 s duration, renewed
# every 10 s, and on time while a create_pod sleeps 30 s on a timer.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 7
vk_setup node

vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua"
wait_until 10 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"
lease() { k -n kube-node-lease get lease "$node" -o json; }
# The first renewal goes out beside the registration; the owner comes with
# the renewal after it.
lease_owned() { [[ -n $(k -n kube-node-lease get lease "$node" -o jsonpath='{.metadata.ownerReferences[0].uid}') ]]; }
wait_until 10 lease_owned || true
l=$(lease)
tap_is "$(jq -r .spec.leaseDurationSeconds <<<"$l")" 40 "the lease lasts 40 s"
tap_is "$(jq -r .spec.holderIdentity <<<"$l")" "$node" "the node holds its lease"
tap_is "$(jq -r '.metadata.ownerReferences[0].kind + "/" + .metadata.ownerReferences[0].name' <<<"$l")" \
	"Node/$node" "the lease is owned by the Node"
tap_is "$(jq -r '.metadata.ownerReferences[0].uid' <<<"$l")" "$(k get node "$node" -o jsonpath='{.metadata.uid}')" \
	"the owner reference carries the Node's uid"

# A pod whose create_pod sleeps 30 s keeps a provider callback busy the whole time.
pod_yaml slow "$node" | sed 's/^metadata: {name: slow,/metadata: {annotations: {vk-test\/create: "sleep:30000"}, name: slow,/' | k apply -f - >/dev/null
# Sample renewTime for 32 s: every renewal must come within ~10 s of the last.
prev="" gaps=() deadline=$(($(date +%s) + 32))
while (($(date +%s) < deadline)); do
	rt=$(k -n kube-node-lease get lease "$node" -o jsonpath='{.spec.renewTime}')
	if [[ -n $prev && $rt != "$prev" ]]; then
		gaps+=("$(python3 -c "from datetime import datetime as d;f='%Y-%m-%dT%H:%M:%S.%fZ';print(round((d.strptime('$rt',f)-d.strptime('$prev',f)).total_seconds(),2))")")
	fi
	prev=$rt
	sleep 0.5
done
tap_diag "renewal gaps (s): ${gaps[*]}"
tap_ok "renewed at least twice while create_pod slept" test "${#gaps[@]}" -ge 2
worst=$(printf '%s\n' "${gaps[@]:-99}" | sort -g | tail -1)
# The period is 10 s on the loop's clock; renewTime is stamped when the
# renewal runs, so a busy machine that delays one stamp shortens the next
# gap as much as it lengthens this one (8.94 s was seen under stress-ng).
# 5-15 s still tells a renewal on its timer from one per event (sooner)
# or one that waited for the 30 s create (later).
tap_ok "every renewal came 5-15 s after the last (worst $worst s)" \
	python3 -c "import sys; g=[float(x) for x in '${gaps[*]}'.split()]; sys.exit(0 if g and all(5<=x<=15 for x in g) else 1)"
wait_until 15 pod_is slow Running || true
tap_is "$(pod_phase slow)" Running "the slow pod ends up Running"
tap_done
