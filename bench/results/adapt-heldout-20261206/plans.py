"""Planned against run epochs of nasoa's one-shot rows, and test accuracy, on the Intel VM at seeds 4
and 5: uncalibrated at the 2026-12-05 code (../adapt-heldout-20261205/), calibrated at that code
(../adapt-heldout-20261205b/), and uncalibrated at this session's code (./seedSEED).
    python bench/results/adapt-heldout-20261206/plans.py 4 5 > plans.txt"""
import json
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
seeds = [int(s) for s in sys.argv[1:]]
PHASES = {"before": here.parent / "adapt-heldout-20261205", "calibrated": here.parent / "adapt-heldout-20261205b",
          "now": here}


def rows(folder: Path) -> dict:
    out = {}
    for line in (folder / "rows.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("strategy") == "nasoa":
            out[(r["task_index"], r["budget_s"])] = r
    return out


summary: dict = {}
for seed in seeds:
    phases = {name: rows(folder / f"seed{seed}") for name, folder in PHASES.items()}
    keys = sorted(set.intersection(*(set(v) for v in phases.values())))
    print(f"seed {seed}: {len(keys)} task x budget cells in all three")
    for k in keys:
        line = [f"  task {k[0]} {k[1]:>4.0f} s"]
        for phase, rs in phases.items():
            r = rs[k]
            plan, ran = r.get("planned_epochs"), r.get("epochs")
            ratio = f"{ran / plan:.2f}" if plan else "probe"
            line.append(f"{phase}: {r['model'][:12]:12} run/plan {ratio:>5} test {r['test_accuracy']:.3f} "
                        f"{r['elapsed_s'] / r['budget_s']:.3f} of budget")
            if plan:
                summary.setdefault(phase, []).append(ran / plan)
            summary.setdefault(phase + "_acc", {}).setdefault(k[1], []).append(r["test_accuracy"])
            summary.setdefault(phase + "_over", []).append(r["elapsed_s"] / r["budget_s"])
        print(" | ".join(line))
for phase in PHASES:
    x = summary.get(phase, [])
    if x:
        print(f"{phase}: {sum(0.75 <= v <= 1.25 for v in x)} of {len(x)} one-shot plans within 25%, "
              f"run/plan {min(x):.2f}-{max(x):.2f} (median {sorted(x)[len(x) // 2]:.2f}); "
              f"longest row {max(summary[phase + '_over']):.3f} of its budget")
    for b, accs in sorted(summary.get(phase + "_acc", {}).items()):
        print(f"  {phase} {b:.0f} s: mean test accuracy {sum(accs) / len(accs):.4f} over {len(accs)} rows")

# nasoa now against practice and default of the same seeds on this machine (their rows in
# ../adapt-heldout-20261205/: they consult neither the meta-model nor the plan), and the per-task floor.
print("\n| seed | budget | nasoa (now, uncalibrated) | practice | default | nasoa - practice | nasoa - default | "
      "worst task vs the better |")
print("|---|---|---|---|---|---|---|---|")
for seed in seeds:
    now = rows(here / f"seed{seed}")
    base = {}
    for line in (PHASES["before"] / f"seed{seed}" / "rows.jsonl").read_text().splitlines():
        r = json.loads(line)
        base[(r["task_index"], r["budget_s"], r["strategy"])] = r["test_accuracy"]
    for b in (30.0, 90.0):
        tasks = sorted(t for (t, bb) in now if bb == b)
        n = sum(now[(t, b)]["test_accuracy"] for t in tasks) / len(tasks)
        p = sum(base[(t, b, "practice")] for t in tasks) / len(tasks)
        d = sum(base[(t, b, "default")] for t in tasks) / len(tasks)
        worst = min((now[(t, b)]["test_accuracy"] - max(base[(t, b, "practice")], base[(t, b, "default")]), t)
                    for t in tasks)
        print(f"| {seed} | {b:.0f} s | {n:.4f} | {p:.4f} | {d:.4f} | {100 * (n - p):+.1f} | {100 * (n - d):+.1f} | "
              f"{100 * worst[0]:+.2f} (task {worst[1]}) |")
