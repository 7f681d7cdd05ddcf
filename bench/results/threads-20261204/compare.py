"""Planned against run epochs, steps and test accuracy of the nasoa rows of bench-spin/ and
bench-passive/ (``bench2.sh``), beside the one-thread rows of the same tasks and seed
(../adapt-heldout-20261204/seed4/). A probed row (novel task) plans its continuation after the
probes: planned epochs are None there and it is left out of the plan column.
Usage: python compare.py"""

import json
from pathlib import Path

here = Path(__file__).parent
arms = {"spin, 2 threads": here / "bench-spin", "passive, 2 threads": here / "bench-passive",
        "1 thread (taskset)": here.parent / "adapt-heldout-20261204" / "seed4"}
rows = {}
for arm, d in arms.items():
    f = d / "rows.jsonl"
    if f.exists():
        rows[arm] = [r for r in map(json.loads, f.read_text().splitlines()) if r["strategy"] == "nasoa"]
print("| arm | budget | rows | planned rows within 25% | median run/plan | mean steps | mean test accuracy |")
print("|---|---|---|---|---|---|---|")
for arm, rs in rows.items():
    for b in (30.0, 90.0):
        part = [r for r in rs if r["budget_s"] == b]
        plans = [r["epochs"] / r["planned_epochs"] for r in part if r.get("planned_epochs")]
        within = sum(abs(x - 1) <= 0.25 for x in plans)
        med = sorted(plans)[len(plans) // 2] if plans else float("nan")
        print(f"| {arm} | {b:g} s | {len(part)} | {within}/{len(plans)} | {med:.2f} | "
              f"{sum(r['steps'] for r in part) / max(len(part), 1):.0f} | "
              f"{sum(r['test_accuracy'] for r in part) / max(len(part), 1):.4f} |")
print()
print("per row: task, budget, arm: model, steps, epochs / planned, test accuracy")
for arm, rs in rows.items():
    for r in rs:
        pe = r.get("planned_epochs")
        print(f"{r['task_index']} {r['budget_s']:g}s {arm}: {r['model']} {r['steps']} steps, "
              f"{r['epochs']:.1f}/{pe if pe is None else round(pe, 1)} epochs, test {r['test_accuracy']:.4f}")
