#!/usr/bin/env python3
"""Draws a timeline picture of a trace exported by `just trace` (the Chrome/Perfetto JSON).

    python3 tools/trace-plot.py target/trace/trace-demo.json doc/trace-demo.png [--from US --to US]

One row per CPU (what ran there, its interrupts and irq_work callbacks; idle is left blank) and
one per kernel thread (its runs, work callbacks and task_works), slices coloured by kind, and the
flow arrows from each queueing (and SGI) to what it caused. The window is the deferred work's
(interrupts, callbacks) unless --from/--to say otherwise. Needs matplotlib (pip install
matplotlib).
"""

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

COLOURS = {
    "sched": "#c8d6e5",
    "irq": "#f6b93b",
    "irq_work": "#e55039",
    "work": "#4a69bd",
    "task_work": "#78e08f",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("png")
    ap.add_argument("--from", dest="t0", type=float, help="start (microseconds)")
    ap.add_argument("--to", dest="t1", type=float, help="end (microseconds)")
    a = ap.parse_args()
    events = json.load(open(a.json))["traceEvents"]

    names = {}
    for e in events:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    slices = [e for e in events if e["ph"] == "X" and e["cat"] != "idle"]
    busy = [e for e in slices if e["cat"] != "sched"]
    t0 = a.t0 if a.t0 is not None else min(e["ts"] for e in busy)
    t1 = a.t1 if a.t1 is not None else max(e["ts"] + e["dur"] for e in busy)
    pad = (t1 - t0) * 0.05
    t0, t1 = t0 - pad, t1 + pad

    # Rows: the CPUs, then the threads that did something in the window (but idle runs).
    def shown(e):
        return e["ts"] < t1 and e["ts"] + e["dur"] > t0

    used = {(e["pid"], e["tid"]) for e in slices if shown(e)}
    rows = sorted(k for k in names if k in used)
    row = {k: i for i, k in enumerate(rows)}

    fig, ax = plt.subplots(figsize=(12, 0.45 * len(rows) + 1.6))
    for e in slices:
        k = (e["pid"], e["tid"])
        if k not in row or not shown(e):
            continue
        nested = e["cat"] in ("irq_work", "work", "task_work")
        h = 0.45 if nested else 0.7
        y = row[k] - h / 2
        ax.broken_barh([(e["ts"], max(e["dur"], (t1 - t0) * 0.002))], (y, h),
                       facecolors=COLOURS.get(e["cat"], "#999999"), edgecolor="black", linewidth=0.3)
        if nested and e["dur"] > (t1 - t0) * 0.02:
            ax.text(e["ts"] + e["dur"] / 2, row[k], e["name"].split(" ", 1)[-1],
                    ha="center", va="center", fontsize=7, color="white")
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    for f in (e for e in events if e["ph"] == "f"):
        s = starts.get(f["id"])
        if not s:
            continue
        a_, b_ = (s["pid"], s["tid"]), (f["pid"], f["tid"])
        if a_ not in row or b_ not in row or not (t0 <= s["ts"] <= t1 and t0 <= f["ts"] <= t1):
            continue
        colour = "#b71540" if s["name"].startswith("sgi") else "#0c2461"
        ax.annotate("", xy=(f["ts"], row[b_]), xytext=(s["ts"], row[a_]),
                    arrowprops=dict(arrowstyle="->", color=colour, lw=0.8, shrinkA=0, shrinkB=0))
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([names[k] for k in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(t0, t1)
    ax.set_xlabel("time since boot (µs)")
    ax.set_title("rtos trace: each work queued (arrow) and run where the seeds say", fontsize=10)
    legend = [Patch(facecolor=c, edgecolor="black", label=k) for k, c in COLOURS.items()]
    ax.legend(handles=legend, loc="upper right", fontsize=7, ncol=len(legend))
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"wrote {a.png}: {len(rows)} tracks, {t0:.0f}..{t1:.0f} us")


if __name__ == "__main__":
    main()
