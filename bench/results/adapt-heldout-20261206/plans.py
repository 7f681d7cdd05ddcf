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
    """nasoa's rows of a bench folder, by (task index, budget)."""
    lines = (folder / "rows.jsonl").read_text().splitlines()
    return {(r["task_index"], r["budget_s"]): r for r in map(json.loads, lines) if r.get("strategy") == "nasoa"}


def cell(phase: str, r: dict) -> str:
    plan, ran = r.get("planned_epochs"), r.get("epochs")
    ratio = f"{ran / plan:.2f}" if plan else "probe"
    return (f"{phase}: {r['model'][:12]:12} run/plan {ratio:>5} test {r['test_accuracy']:.3f} "
            f"{r['elapsed_s'] / r['budget_s']:.3f} of budget")


cells = []  # (phase, budget, row) of every cell the three runs share
for seed in seeds:
    by_phase = {name: rows(folder / f"seed{seed}") for name, folder in PHASES.items()}
    shared = sorted(set.intersection(*(set(v) for v in by_phase.values())))
    print(f"seed {seed}: {len(shared)} task x budget cells in all three")
    for task, budget in shared:
        print(" | ".join([f"  task {task} {budget:>4.0f} s"]
                         + [cell(phase, by_phase[phase][(task, budget)]) for phase in PHASES]))
        cells += [(phase, budget, by_phase[phase][(task, budget)]) for phase in PHASES]
for phase in PHASES:
    mine = [(b, r) for ph, b, r in cells if ph == phase]
    x = [r["epochs"] / r["planned_epochs"] for _, r in mine if r.get("planned_epochs")]
    if x:
        print(f"{phase}: {sum(0.75 <= v <= 1.25 for v in x)} of {len(x)} one-shot plans within 25%, "
              f"run/plan {min(x):.2f}-{max(x):.2f} (median {sorted(x)[len(x) // 2]:.2f}); "
              f"longest row {max(r['elapsed_s'] / r['budget_s'] for _, r in mine):.3f} of its budget")
    for b in sorted({b for b, _ in mine}):
        accs = [r["test_accuracy"] for bb, r in mine if bb == b]
        print(f"  {phase} {b:.0f} s: mean test accuracy {sum(accs) / len(accs):.4f} over {len(accs)} rows")

# nasoa now against practice and default of the same seeds on this machine (their rows in
# ../adapt-heldout-20261205/: they consult neither the meta-model nor the plan), and the per-task floor.
print("\n| seed | budget | nasoa (now, uncalibrated) | practice | default | nasoa - practice | nasoa - default | "
      "worst task vs the better |")
print("|---|---|---|---|---|---|---|---|")
def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


for seed in seeds:
    now = rows(here / f"seed{seed}")
    acc = {(r["task_index"], r["budget_s"], r["strategy"]): r["test_accuracy"]
           for r in map(json.loads, (PHASES["before"] / f"seed{seed}" / "rows.jsonl").read_text().splitlines())}
    acc.update({(t, b, "nasoa"): r["test_accuracy"] for (t, b), r in now.items()})
    for b in (30.0, 90.0):
        tasks = sorted(t for (t, bb) in now if bb == b)
        n, p, d = (mean(acc[(t, b, s)] for t in tasks) for s in ("nasoa", "practice", "default"))
        gap, task = min((acc[(t, b, "nasoa")] - max(acc[(t, b, "practice")], acc[(t, b, "default")]), t) for t in tasks)
        print(f"| {seed} | {b:.0f} s | {n:.4f} | {p:.4f} | {d:.4f} | {100 * (n - p):+.1f} | {100 * (n - d):+.1f} | "
              f"{100 * gap:+.2f} (task {task}) |")
