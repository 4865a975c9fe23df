#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# providers/cloud.lua against the cloud simulator (examples/cloud-sim),
# through the real control plane: N pods (500) created at once, then
#  * create->Running per pod with the simulator's delay taken out: from the
#    pod's ADDED event to its first Running event (a watch, stamped in ms on
#    arrival), minus the time the simulator itself kept the instance in
#    Scheduling and Pending (its RunningMs - CreatedMs); split into "to the
#    create call" (CreatedMs - ADDED) and "to the API" (Running seen -
#    RunningMs);
#  * in steady state (all Running, then W seconds, 90 by default),
#    DescribeContainerGroups calls per pod per minute, and the instance
#    descriptions they carried.
#
#   tests/bench/cloud.sh [N] [W]     VK_BIN picks vk (a release build is
#                                    fairer: meson setup build-rel -Dbuildtype=release
#                                    -Dcurl_dir="$(scripts/build-curl.sh)")
#   CLOUD_RATE=50 SIM_RATE=100 SIM_DELAY=1   provider and simulator request
#                                    rates (per s), the simulator's delay per state (s)
# Prints a table; commits nothing.
# shellcheck source-path=SCRIPTDIR/../e2e
set -euo pipefail
source "$(dirname "$0")/../e2e/vk/common.bash"
source "$(dirname "$0")/../e2e/vk/cloud.bash"
n=${1:-500}
window=${2:-90}
rate=${CLOUD_RATE:-50}
sim_rate=${SIM_RATE:-100}
delay=${SIM_DELAY:-1}
vk_setup node
cloud_sim_up --schedule-delay "$delay" --start-delay "$delay" --rate-limit "$sim_rate" --burst "$sim_rate" \
	--quota-instances $((n + 10))
cloud_config "rate_limit: $rate"
cloud_vk_start vk "$node"
wait_until 30 node_is "$node" True || tap_bail "node not Ready: $(tail -5 "$tmp/vk.log")"

# The watch, each line stamped with the time it arrived (ms).  kubectl's
# watch may end (the API server closes watches): it is started again, and
# only each pod's first ADDED and first Running count.  Python runs kubectl
# as its child and stops it when it is stopped itself (by PID).
cat >"$tmp/watch.py" <<'PY'
import signal, subprocess, sys, time
cmd = sys.argv[1:]
child = None
def stop(*_):
    if child:
        child.terminate()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, bufsize=1)
    for line in child.stdout:
        sys.stdout.write("%d %s" % (time.time() * 1000, line))
        sys.stdout.flush()
    child.wait()
    sys.stderr.write("watch: kubectl ended (%s), again\n" % child.returncode)
    time.sleep(0.2)
PY
python3 -u "$tmp/watch.py" "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" -n "$ns" get pods -w --output-watch-events \
	-o jsonpath='{.type} {.object.metadata.name} {.object.status.phase}{"\n"}' >"$tmp/watch.txt" 2>"$tmp/watch.err" &
watch_pid=$!
on_exit "kill $watch_pid 2>/dev/null; cat '$tmp/watch.err' >&2"
sleep 2

for i in $(seq 1 "$n"); do
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: p$i, namespace: $ns}
spec:
  nodeName: $node
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: docker.io/library/busybox:1.35, command: [sleep, "3600"], resources: {requests: {cpu: 250m, memory: 256Mi}}}
---
YAML
done >"$tmp/pods.yaml"
t0=$(date +%s%3N)
k apply -f "$tmp/pods.yaml" >/dev/null
running() { [[ $(awk '$4 == "Running" { print $3 }' "$tmp/watch.txt" | sort -u | wc -l) -ge $n ]]; }
wait_until 600 running || tap_bail "not all $n pods Running: $(awk '$4 == "Running"' "$tmp/watch.txt" | wc -l)"
t1=$(date +%s%3N)

sleep 10
c0=$(sim /debug/counts)
sleep "$window"
c1=$(sim /debug/counts)
sim /debug/instances >"$tmp/instances.json"

python3 - "$tmp/watch.txt" "$tmp/instances.json" "$ns" "$n" "$window" "$c0" "$c1" "$((t1 - t0))" "$rate" "$sim_rate" "$delay" <<'PY'
import json, sys
watch, inst_file, ns, n, window, c0, c1, all_ms, rate, sim_rate, delay = sys.argv[1:]
n, window = int(n), float(window)
c0, c1 = json.loads(c0), json.loads(c1)
added, running = {}, {}
for line in open(watch):
    parts = line.split()
    if len(parts) < 3:
        continue
    t, typ, name = int(parts[0]), parts[1], parts[2]
    phase = parts[3] if len(parts) > 3 else ""
    if typ == "ADDED" and name not in added:
        added[name] = t
    if phase == "Running" and name not in running:
        running[name] = t
inst = {i["ContainerGroupName"]: i for i in json.load(open(inst_file))["Instances"] if not i["Deleted"]}
net, to_create, to_api = [], [], []
for name, t_run in running.items():
    i = inst.get(ns + "-" + name)
    if not i or name not in added:
        continue
    sim_delay = i["RunningMs"] - i["CreatedMs"]
    net.append(t_run - added[name] - sim_delay)
    to_create.append(i["CreatedMs"] - added[name])
    to_api.append(t_run - i["RunningMs"])
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round((len(xs) - 1) * p / 100.0)))]
calls = c1["DescribeContainerGroups"] - c0["DescribeContainerGroups"]
ids = c1["described_ids"] - c0["described_ids"]
print("| figure (N = %d pods, provider rate %s/s, simulator %s/s, simulator delay %s s + %s s) | value |" % (n, rate, sim_rate, delay, delay))
print("|---|---|")
print("| pods timed | %d |" % len(net))
print("| create->Running, simulator's delay taken out: p50 / p99 / max (ms) | %d / %d / %d |" % (pct(net, 50), pct(net, 99), max(net)))
print("| of which ADDED -> CreateContainerGroup received: p50 / p99 (ms) | %d / %d |" % (pct(to_create, 50), pct(to_create, 99)))
print("| of which Running in the cloud -> Running seen in the API: p50 / p99 (ms) | %d / %d |" % (pct(to_api, 50), pct(to_api, 99)))
print("| all %d pods applied -> all Running (ms) | %s |" % (n, all_ms))
print("| steady state: DescribeContainerGroups calls in %d s | %d |" % (window, calls))
print("| steady state: Describe calls per pod per minute | %.4f |" % (calls / n / (window / 60)))
print("| steady state: instance descriptions per pod per minute | %.2f |" % (ids / n / (window / 60)))
print("| throttled (429) during the whole run | %d |" % c1["throttled"])
print("| CreateContainerGroup calls / instances created | %d / %d |" % (c1["CreateContainerGroup"], c1["created"]))
PY
grep -E '^(VmRSS|VmHWM)' "/proc/$vk_pid/status" | tr -s ' \t' ' '
k -n "$ns" delete pods --all --wait=false >/dev/null
