#!/usr/bin/env python3
"""The table of tests/bench/kubelet.sh: vk + mynode against kubelet on real
containers, from the load client's JSON (RAW/AGENT-N.json), with the ratios
against the goals of issue 17, and the data files plot.gp draws.  Standard
library only."""
import argparse
import glob
import json
import os

AGENTS = [("vk", "vk + mynode"), ("kubelet", "kubelet")]
COLS = [
    ("create_to_all_running_s", "create→all Running (s)", 1, "{:.2f}"),
    ("latency_ms_p50", "create→Running p50 (ms)", 1, "{:.0f}"),
    ("latency_ms_p99", "create→Running p99 (ms)", 1, "{:.0f}"),
    ("delete_all_gone_s", "delete→all gone (s)", 1, "{:.2f}"),
    ("idle_rss_kb", "idle RSS (MiB)", 1 / 1024, "{:.1f}"),
    ("idle_anon_kb", "idle RssAnon (MiB)", 1 / 1024, "{:.1f}"),
    ("steady_rss_kb", "RSS at N (MiB)", 1 / 1024, "{:.1f}"),
    ("steady_anon_kb", "RssAnon at N (MiB)", 1 / 1024, "{:.1f}"),
    ("churn_cpu_s", "CPU s churn", 1, "{:.2f}"),
    ("idle_cpu_s", "CPU s idle", 1, "{:.2f}"),
]
# (label, key, op, goal)
GOALS = [
    ("create→Running p99, vk / kubelet", "latency_ms_p99", "<=", 1.0),
    ("idle RSS, vk / kubelet", "idle_rss_kb", "<=", 0.2),
    ("RSS at N, vk / kubelet", "steady_rss_kb", "<=", 0.2),
    ("CPU seconds for the churn, vk / kubelet", "churn_cpu_s", "<=", 0.5),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--plot-data", required=True)
    ap.add_argument("--meta", default="")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split()]
    runs = {}
    for path in glob.glob(os.path.join(a.raw, "*.json")):
        agent, n = os.path.basename(path)[:-5].rsplit("-", 1)
        with open(path) as f:
            runs[(agent, int(n))] = json.load(f)
    failed = {}
    for path in glob.glob(os.path.join(a.raw, "*-failed.txt")):
        with open(path) as f:
            failed[os.path.basename(path)[:-11]] = f.read().strip()

    out = ["# vk + mynode vs kubelet, real containers (containerd + runc)", ""]
    out.append("| agent | N | " + " | ".join(c[1] for c in COLS) + " |")
    out.append("|---|---:|" + "---:|" * len(COLS))
    for n in sizes:
        for agent, label in AGENTS:
            r = runs.get((agent, n))
            cells = ["—" if r is None or r.get(k) is None else fmt.format(r[k] * conv) for k, _, conv, fmt in COLS]
            out.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("| ratio | N | measured | goal | met |")
    out.append("|---|---:|---:|---:|:---:|")
    for n in sizes:
        vk, kl = runs.get(("vk", n)), runs.get(("kubelet", n))
        for label, key, op, goal in GOALS:
            v = None
            if vk and kl and isinstance(vk.get(key), (int, float)) and kl.get(key):
                v = vk[key] / kl[key]
            if v is None:
                out.append(f"| {label} | {n} | — | {op} {goal} | |")
                continue
            met = v <= goal if op == "<=" else v >= goal
            out.append(f"| {label} | {n} | {v:.3f} | {op} {goal} | {'yes' if met else 'no'} |")
    out.append("")
    for agent, why in sorted(failed.items()):
        out.append(f"**{agent} did not run**: {why}")
        out.append("")
    out.append("Each agent ran on a containerd of its own, one after the other, on one control plane. Per N, "
               "the load client (tests/bench/loadgen) created N busybox pods (`sleep 3600`, no service account "
               "token, grace 1 s) at once, bound to the agent's node; *create→Running* is per pod, from its "
               "create request returning to a watch seeing it Running. Memory is VmRSS / RssAnon of the agent's "
               "process from /proc (idle: median over the idle window before the pods; at N: median over 10 s "
               "with all N Running). CPU is utime+stime of the agent's process during the churn (create until "
               "all gone). kubelet's containers' shims and runc are not in either figure.")
    out.append("")
    if a.note:
        out.append(f"Note: {a.note}")
        out.append("")
    if a.meta:
        out.append(f"Setup: {a.meta}")
        out.append("")
    with open(a.md, "w") as f:
        f.write("\n".join(out) + "\n")

    os.makedirs(a.plot_data, exist_ok=True)
    slowest = max([r.get("create_to_all_running_s", 1) for r in runs.values()] or [1])
    with open(os.path.join(a.plot_data, "zoom"), "w") as f:
        f.write(f"{max(1.0, 1.2 * slowest):.2f}\n")
    for (agent, n), r in runs.items():
        with open(os.path.join(a.plot_data, f"{agent}-{n}.dat"), "w") as f:
            f.write("0 0\n")
            for t, c in r.get("series", []):
                f.write(f"{t:.4f} {c:.0f}\n")


if __name__ == "__main__":
    main()
