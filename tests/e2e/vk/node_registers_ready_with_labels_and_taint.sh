#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: node2 by vk_setup (common.bash)
# Node registration: capacity and labels from the provider, kubelet's
# labels, the provider taint (or none with --disable-taint), a restricted
# label dropped with one warning, and Ready soon after start (the time is
# shown; the bound is one a busy machine keeps).
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 12
vk_setup node node2

cat >"$tmp/config.yaml" <<YAML
cpu: "12"
memory: 48Gi
pods: "220"
labels:
  kubernetes.io/role: agent
  example.com/site: lab
YAML
t0=$(date +%s%N)
vk_start vk "$node" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --provider-config "$tmp/config.yaml"
if wait_until 30 node_is "$node" True; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	tap_pass "node is Ready after ${ms} ms"
	if ((ms <= 20000)); then tap_pass "Ready within 20 s of start"; else tap_fail "Ready within 20 s of start" "took $ms ms"; fi
else
	tap_fail "node is Ready" "$(vk_log_tail vk)"
	tap_fail "Ready within 20 s of start"
fi
json=$(k get node "$node" -o json)
jq_() { jq -r "$1" <<<"$json"; }
tap_is "$(jq_ '.status.capacity.cpu + " " + .status.capacity.memory + " " + .status.capacity.pods')" "12 48Gi 220" \
	"capacity comes from the provider's config"
tap_is "$(jq_ '.metadata.labels["kubernetes.io/hostname"] + " " + .metadata.labels["kubernetes.io/os"] + " " + .metadata.labels.type')" \
	"$node linux virtual-kubelet" "kubelet's labels and type=virtual-kubelet are set"
tap_like "$(jq_ '.metadata.labels["kubernetes.io/arch"]')" '^(amd64|arm64|arm|386)$' "the arch label uses GOARCH names"
tap_is "$(jq_ '.metadata.labels["example.com/site"]')" lab "a provider label is set"
tap_is "$(jq_ '.metadata.labels["kubernetes.io/role"] // "absent"')" absent "kubernetes.io/role, forbidden by NodeRestriction, is left out"
tap_is "$(grep -c 'NodeRestriction.*kubernetes.io/role' "$tmp/vk.log")" 1 "one warning names the dropped label"
tap_is "$(jq_ '.spec.taints[] | select(.key=="virtual-kubelet.io/provider") | .value + ":" + .effect')" \
	"recorder:NoSchedule" "the node carries the provider taint"
tap_is "$(jq_ '.status.daemonEndpoints.kubeletEndpoint.Port')" 0 "the daemon endpoint is the kubelet API port"

vk_start vk2 "$node2" "$VK_ROOT/tests/e2e/vk/providers/recorder.lua" --disable-taint
wait_until 10 node_is "$node2" True || true
tap_is "$(node_ready "$node2")" True "a second node with --disable-taint is Ready"
# (The node lifecycle controller may add node.kubernetes.io/* taints of its own.)
tap_is "$(k get node "$node2" -o json | jq -r '[.spec.taints[]? | select(.key == "virtual-kubelet.io/provider")] | length')" 0 \
	"--disable-taint leaves the provider taint off"
tap_done
