"""nasoa's rows with the new time model (new-seedN) and with the code before it (before-seedN), run side by side,
against practice and default at the same seed on the same machine (baselines-seedN, session 39: the nasoa rows
ran on the Intel Xeon VM; session 38 had read them against ../adapt-heldout-20261204/seedN/, rows of the AMD EPYC
VM, given as "practice (AMD)" beside): means, the worst task against the better baseline, the one-shot plans
within 25% of the epochs run, and every cell whose member changed or that moved by more than a point.
    python summary.py 2      # -> summary.txt
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rows(p):
    return {(r["task_index"], r["budget_s"], r["strategy"]): r for r in map(json.loads, open(p))}


def within(rs):
    ok = [abs(r["epochs"] / r["planned_epochs"] - 1) <= 0.25 for r in rs
          if r.get("planned_epochs") and r.get("epochs") and not r.get("probe")]
    return f"{sum(ok)} of {len(ok)}"


print("| seed | budget | nasoa now | nasoa before | practice | default | now - practice | now - default | "
      "worst task vs the better (now / before) | plans within 25% (now / before) | practice, default (AMD) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
moved = []
for s in sys.argv[1:]:
    new, old = rows(HERE / f"new-seed{s}/rows.jsonl"), rows(HERE / f"before-seed{s}/rows.jsonl")
    base = rows(HERE / f"baselines-seed{s}/rows.jsonl")
    amd = rows(HERE.parent / f"adapt-heldout-20261204/seed{s}/rows.jsonl")
    for bud in (30.0, 90.0):
        tasks = sorted(t for (t, b, k) in new if b == bud and (t, b, k) in old)
        if not tasks:
            continue
        mean = {k: sum(src[(t, bud, k2)]["test_accuracy"] for t in tasks) / len(tasks)
                for k, src, k2 in (("now", new, "nasoa"), ("before", old, "nasoa"), ("practice", base, "practice"),
                                   ("default", base, "default"), ("practice_amd", amd, "practice"),
                                   ("default_amd", amd, "default"))}

        def worst(src):
            return min(src[(t, bud, "nasoa")]["test_accuracy"]
                       - max(base[(t, bud, k)]["test_accuracy"] for k in ("practice", "default")) for t in tasks)

        print(f"| {s} | {bud:g} s | {mean['now']:.4f} | {mean['before']:.4f} | {mean['practice']:.4f} | "
              f"{mean['default']:.4f} | {100 * (mean['now'] - mean['practice']):+.1f} | "
              f"{100 * (mean['now'] - mean['default']):+.1f} | {100 * worst(new):+.2f} / {100 * worst(old):+.2f} | "
              f"{within([new[(t, bud, 'nasoa')] for t in tasks])} / {within([old[(t, bud, 'nasoa')] for t in tasks])} | "
              f"{mean['practice_amd']:.4f}, {mean['default_amd']:.4f} |")
        for t in tasks:
            a, b = new[(t, bud, "nasoa")], old[(t, bud, "nasoa")]
            if a.get("model") != b.get("model") or abs(a["test_accuracy"] - b["test_accuracy"]) > 0.01:
                moved.append(f"seed {s}, task {t}, {bud:g} s: {b.get('model')} {b['test_accuracy']:.3f} -> "
                             f"{a.get('model')} {a['test_accuracy']:.3f}")
print("\nCells whose member changed or that moved by more than a point (before -> now):")
print("\n".join(moved) or "none")
