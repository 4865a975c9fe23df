#!/usr/bin/env python3
"""Turns the load client's JSON of every run (RAW/WHICH-ROUND.json) into the
benchmark's markdown table of medians, the ratios against the goals of
issue 6, and the data files the gnuplot script plots.  Standard library only.
"""
import argparse
import glob
import json
import os
import statistics

ROWS = [("vk", "vk"), ("tuned", "virtual-kubelet, tuned (QPS 500)"), ("upstream", "upstream virtual-kubelet"),
        ("ceiling", "raw API ceiling"), ("ceiling-min", "raw API ceiling, minimal writes")]

# (key, header, unit conversion, format, agents only)
COLS = [
    ("create_to_all_running_s", "create→all Running (s)", 1, "{:.2f}", False),
    ("pods_per_s", "pods/s to Running", 1, "{:.1f}", False),
    ("delete_all_gone_s", "delete→all gone (s)", 1, "{:.2f}", False),
    ("delete_pods_per_s", "pods/s deleted", 1, "{:.1f}", False),
    ("churn_pods_per_s", "churn pods/s", 1, "{:.1f}", False),
    ("latency_ms_p50", "latency p50 (ms)", 1, "{:.0f}", False),
    ("latency_ms_p99", "latency p99 (ms)", 1, "{:.0f}", False),
    ("idle_rss_kb", "idle RSS (MiB)", 1 / 1024, "{:.1f}", True),
    ("idle_anon_kb", "idle RssAnon (MiB)", 1 / 1024, "{:.1f}", True),
    ("peak_rss_kb", "peak RSS (MiB)", 1 / 1024, "{:.1f}", True),
    ("peak_anon_kb", "peak RssAnon (MiB)", 1 / 1024, "{:.1f}", True),
    ("steady_rss_kb", "RSS at N (MiB)", 1 / 1024, "{:.1f}", True),
    ("steady_anon_kb", "RssAnon at N (MiB)", 1 / 1024, "{:.1f}", True),
    ("api_writes_per_pod_besides_load_client", "API writes/pod by agent", 1, "{:.2f}", False),
    ("churn_cpu_s", "CPU s churn", 1, "{:.2f}", True),
    ("idle_cpu_s", "CPU s idle", 1, "{:.2f}", True),
]

# The goals of issue 6: (header, key, num, den, op, goal)
GOALS = [
    ("idle RSS, vk / upstream", "idle_rss_kb", "vk", "upstream", "<=", 0.3),
    ("idle RssAnon, vk / upstream", "idle_anon_kb", "vk", "upstream", "<=", 0.1),
    ("RSS at N pods, vk / upstream", "steady_rss_kb", "vk", "upstream", "<=", 0.25),
    ("RssAnon at N pods, vk / upstream", "steady_anon_kb", "vk", "upstream", "<=", 0.15),
    ("churn throughput, vk / upstream", "churn_pods_per_s", "vk", "upstream", ">=", 1.5),
    ("churn throughput, vk / raw ceiling", "churn_pods_per_s", "vk", "ceiling", ">=", 0.8),
    ("CPU seconds for the churn, vk / upstream", "churn_cpu_s", "vk", "upstream", "<=", 0.33),
]
# The goals of issue 17 against the tuned peer (--peers) and at scale (N >= 5000).
GOALS_PEERS = [
    ("churn throughput, vk / tuned VK", "churn_pods_per_s", "vk", "tuned", ">=", 1.2),
    ("churn throughput, vk / raw ceiling", "churn_pods_per_s", "vk", "ceiling", ">=", 0.95),
    ("RSS at N pods, vk / tuned VK", "steady_rss_kb", "vk", "tuned", "<=", 0.25),
    ("CPU seconds for the churn, vk / tuned VK", "churn_cpu_s", "vk", "tuned", "<=", 0.5),
    ("churn throughput, vk / upstream (untuned)", "churn_pods_per_s", "vk", "upstream", ">=", 1.5),
]
GOALS_SCALE = [
    ("churn throughput, vk / raw ceiling", "churn_pods_per_s", "vk", "ceiling", ">=", 0.9),
]
EXTRA_PEERS = [
    ("pods/s to Running, vk / tuned VK", "pods_per_s", "vk", "tuned"),
    ("pods/s deleted, vk / tuned VK", "delete_pods_per_s", "vk", "tuned"),
    ("idle RSS, vk / tuned VK", "idle_rss_kb", "vk", "tuned"),
    ("RssAnon at N pods, vk / tuned VK", "steady_anon_kb", "vk", "tuned"),
    ("latency p99, vk / tuned VK", "latency_ms_p99", "vk", "tuned"),
    ("churn throughput, tuned VK / raw ceiling", "churn_pods_per_s", "tuned", "ceiling"),
    ("RSS at N pods, vk / upstream", "steady_rss_kb", "vk", "upstream"),
    ("CPU seconds for the churn, vk / upstream", "churn_cpu_s", "vk", "upstream"),
]
EXTRA = [
    ("pods/s to Running, vk / upstream", "pods_per_s", "vk", "upstream"),
    ("pods/s to Running, vk / raw ceiling", "pods_per_s", "vk", "ceiling"),
    ("pods/s deleted, vk / upstream", "delete_pods_per_s", "vk", "upstream"),
    ("pods/s deleted, vk / raw ceiling", "delete_pods_per_s", "vk", "ceiling"),
    ("churn throughput, vk / raw ceiling with minimal writes", "churn_pods_per_s", "vk", "ceiling-min"),
    ("pods/s to Running, vk / raw ceiling with minimal writes", "pods_per_s", "vk", "ceiling-min"),
    ("pods/s deleted, vk / raw ceiling with minimal writes", "delete_pods_per_s", "vk", "ceiling-min"),
    ("latency p50, vk / upstream", "latency_ms_p50", "vk", "upstream"),
    ("latency p99, vk / upstream", "latency_ms_p99", "vk", "upstream"),
    ("peak RSS, vk / upstream", "peak_rss_kb", "vk", "upstream"),
    ("peak RssAnon, vk / upstream", "peak_anon_kb", "vk", "upstream"),
    ("CPU seconds idle, vk / upstream", "idle_cpu_s", "vk", "upstream"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="classic", choices=["classic", "peers", "scale"])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--pods", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--idle-seconds", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--plot-data", required=True)
    ap.add_argument("--meta", default="")
    ap.add_argument("--note", default="")
    a = ap.parse_args()

    runs = {w: [] for w, _ in ROWS}
    for path in sorted(glob.glob(os.path.join(a.raw, "*.json"))):
        which, rnd = os.path.basename(path)[:-5].rsplit("-", 1)
        with open(path) as f:
            d = json.load(f)
        d["_round"] = int(rnd)
        runs[which].append(d)

    rows = [(w, label) for w, label in ROWS if runs[w]]
    goals, extra = GOALS, EXTRA
    if a.mode == "peers":
        goals, extra = GOALS_PEERS, EXTRA_PEERS
    elif a.mode == "scale":
        goals, extra = GOALS_SCALE, [e for e in EXTRA if e[3] == "ceiling"]
    title = {"classic": "vk vs upstream virtual-kubelet", "peers": "vk vs virtual-kubelet (tuned and untuned)",
             "scale": "one vk node at scale"}[a.mode]

    med = {}
    for w, _ in ROWS:
        med[w] = {}
        for key, *_ in COLS:
            vals = [r[key] for r in runs[w] if isinstance(r.get(key), (int, float))]
            med[w][key] = statistics.median(vals) if vals else None

    out = []
    out.append(f"# {title}: N = {a.pods} pods, {a.rounds} round(s), medians\n")
    out.append("| | " + " | ".join(c[1] for c in COLS) + " |")
    out.append("|---|" + "---:|" * len(COLS))
    for w, label in rows:
        cells = []
        for key, _, conv, fmt, agents_only in COLS:
            v = med[w][key]
            cells.append("—" if v is None else fmt.format(v * conv))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")

    def ratio(key, num, den):
        n, d = med[num].get(key), med[den].get(key)
        if n is None or not d:
            return None
        return n / d

    out.append("| ratio | measured | goal | met |")
    out.append("|---|---:|---:|:---:|")
    def goal_row(label, v, op, goal, fmt="{:.2f}"):
        if v is None:
            out.append(f"| {label} | — | {op} {goal} | |")
            return
        met = v <= goal if op == "<=" else v >= goal
        out.append(f"| {label} | {fmt.format(v)} | {op} {goal} | {'yes' if met else 'no'} |")

    for label, key, num, den, op, goal in goals:
        goal_row(label, ratio(key, num, den), op, goal)
    if a.mode == "scale":
        vk = med["vk"]
        anon = vk.get("steady_anon_kb")
        goal_row("RssAnon at N pods (MiB)", None if anon is None else anon / 1024, "<=", 40, "{:.1f}")
        if anon is not None and vk.get("idle_anon_kb") is not None:
            per = (anon - vk["idle_anon_kb"]) * 1024 / a.pods
            out.append(f"| RssAnon per pod (bytes, at N minus idle, over N) | {per:.0f} | | |")
        rl = [r["at_n"] for r in runs["vk"] if isinstance(r.get("at_n"), dict)]
        if rl:
            r0 = rl[0]
            goal_row(f"hot reload at {r0['pods']} pods: swap (ms)", r0["swap_ms"], "<=", 50, "{:.0f}")
            goal_row("hot reload: pods replaced (UID changed or gone)", r0["pods_replaced"], "<=", 0, "{:.0f}")
            out.append(f"| hot reload: pods written (resourceVersion changed) | {r0['pods_written']} | | |")
            if r0.get("rss_anon"):
                # vk's /metrics at N, before the reload: where RssAnon goes, per pod
                parts = [("Lua heap", "lua_heap"), ("C heap in use", "malloc_in_use"),
                         ("held free by malloc", "malloc_free"), ("SQLite (in the C heap)", "sqlite")]
                txt = ", ".join(f"{name} {r0.get(key, 0) / 1048576:.1f} MiB ({r0.get(key, 0) / a.pods:.0f} B/pod)"
                                for name, key in parts)
                out.append(f"| where RssAnon goes at N ({r0['rss_anon'] / 1048576:.1f} MiB, vk's /metrics) | {txt} | | |")
        else:
            out.append("| hot reload at N pods | — (not measured) | | |")
    for label, key, num, den in extra:
        v = ratio(key, num, den)
        out.append(f"| {label} | {'—' if v is None else f'{v:.2f}'} | | |")
    out.append("")
    out.append("Figures: *create→all Running* runs from the first create to the watch seeing the last pod "
               "Running; *pods/s* is N over that time (likewise for the graceful delete of all N until the "
               "watch saw the last one gone; the agent does the final delete); *churn pods/s* is N over the "
               "sum of both. *Latency* is per pod, from its create request returning to the watch seeing it "
               "Running (ms, local clock). Memory is VmRSS / RssAnon from /proc/PID/status sampled every "
               "0.5 s: idle = median over the idle window with 0 pods (after a settle time), peak = maximum "
               "during the churn, at N = median while all N pods run. CPU is utime+stime from /proc/PID/stat: "
               f"during the churn (create until all gone, without the hold at N), and idle over "
               f"{a.idle_seconds} s. The raw API ceiling is the same load client plus a simulated agent "
               "(its own client and watch, as the node's own identity system:node:NAME, so that the API "
               "server's priority and fairness treats its requests as it treats vk's and kubelet's) that "
               "makes only the writes an agent must, as kubelet makes them: "
               "per pod one status update to Running, and on deletion the terminal status (containers "
               "terminated, phase Succeeded) then one delete with grace 0; it has no process of its own to "
               "measure. The ceiling with minimal writes leaves out the terminal status, which no "
               "kubelet-like agent can. "
               "All runs used one control plane and alternated " + ", ".join(l for _, l in rows) + " each round.")
    out.append("")
    if a.note:
        out.append(f"Note: {a.note}")
        out.append("")
    if a.meta:
        out.append(f"Setup: {a.meta}")
        out.append("")
    out.append("Per run (create→all Running s / delete→all gone s / churn CPU s / RssAnon at N MiB):")
    out.append("")
    for w, label in rows:
        cells = []
        for r in sorted(runs[w], key=lambda r: r["_round"]):
            cpu = r.get("churn_cpu_s")
            anon = r.get("steady_anon_kb")
            cells.append(f"r{r['_round']}: {r['create_to_all_running_s']:.2f} / {r['delete_all_gone_s']:.2f}"
                         + (f" / {cpu:.2f} / {anon / 1024:.1f}" if cpu is not None else ""))
        out.append(f"- {label}: " + "; ".join(cells))
    out.append("")
    first = {w: min(runs[w], key=lambda r: r["_round"]) for w, _ in ROWS if runs[w]}
    if any("api_requests" in r for r in first.values()):
        out.append("API requests the API server served during the churn of round 1, all clients together "
                   f"(the load client's own {a.pods} POST pods and {a.pods} DELETE pods among them; WATCH not counted):")
        out.append("")
        for w, label in rows:
            req = first.get(w, {}).get("api_requests")
            if req:
                cells = ", ".join(f"{k} {v:.0f}" for k, v in sorted(req.items(), key=lambda kv: -kv[1]))
                out.append(f"- {label}: {cells}")
        out.append("")
    with open(a.md, "w") as f:
        f.write("\n".join(out) + "\n")

    os.makedirs(a.plot_data, exist_ok=True)
    slowest = max([r["create_to_all_running_s"] for r in runs["vk"] + runs["tuned"] + runs["ceiling"] + runs["ceiling-min"]] or [1])
    with open(os.path.join(a.plot_data, "zoom"), "w") as f:
        f.write(f"{max(1.0, 1.5 * slowest):.2f}\n")
    for w, _ in ROWS:
        for r in runs[w]:
            with open(os.path.join(a.plot_data, f"{w}-{r['_round']}.dat"), "w") as f:
                f.write("0 0\n")
                for t, n in r.get("series", []):
                    f.write(f"{t:.4f} {n:.0f}\n")


if __name__ == "__main__":
    main()
