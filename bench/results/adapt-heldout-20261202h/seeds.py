"""Per-task means over the bench's seeds: the rows of run.sh (seed 0, this folder) and of
run-seeds.sh (seed1/, seed2/). Writes seeds.md here and prints it.

    python bench/results/adapt-heldout-20261202h/seeds.py

Per task and budget: nasoa's and practice's mean test accuracy over the seeds, their paired
difference (nasoa - practice, same seed, same task) with its spread over seeds, and the difference
to the better of practice and the default (the default ran at seed 0 only: it is 5-40 points below
practice on every task but one, where it is 1.2 below). Per budget: the mean over tasks of the
per-task mean differences, with the standard error over tasks.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

here = Path(__file__).resolve().parent


def rows(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("rows-shard*.jsonl")) for line in f.open() if line.strip()]


runs: dict[tuple[int, float, str], list[float]] = {}
seeds_seen = []
for seed, folder in [(0, here)] + [(int(p.name[4:]), p) for p in sorted(here.glob("seed[0-9]*")) if p.is_dir()]:
    got = [r for r in rows(folder) if r.get("test_accuracy") is not None]
    if got:
        seeds_seen.append(seed)
    for r in got:
        runs.setdefault((r["task_index"], float(r["budget_s"]), r["strategy"]), []).append(r["test_accuracy"])

out = [f"# Per-task means over seeds {', '.join(map(str, seeds_seen))} (test accuracy, points = x100)", "",
       "| budget | task | seeds | nasoa | practice | default (seed 0) | nasoa - practice (min..max over seeds) | "
       "nasoa - better baseline |", "|---|---|---|---|---|---|---|---|"]
summary = {}
for b in sorted({k[1] for k in runs}):
    diffs, worst = [], []
    for t in sorted({k[0] for k in runs if k[1] == b}):
        n, p = runs.get((t, b, "nasoa"), []), runs.get((t, b, "practice"), [])
        d = runs.get((t, b, "default"), [])
        k = min(len(n), len(p))
        if not k:
            continue
        paired = [100 * (a - c) for a, c in zip(n[:k], p[:k])]
        mn, mp = statistics.mean(n[:k]), statistics.mean(p[:k])
        better = max(mp, d[0]) if d else mp
        gap = 100 * (mn - better)
        diffs.append(100 * (mn - mp))
        worst.append((gap, t))
        out.append(f"| {b:g}s | {t} | {k} | {mn:.4f} | {mp:.4f} | {d[0] if d else float('nan'):.4f} | "
                   f"{statistics.mean(paired):+.2f} ({min(paired):+.2f}..{max(paired):+.2f}) | {gap:+.2f} |")
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    summary[b] = (statistics.mean(diffs), se, min(worst))
out += ["", "| budget | mean nasoa - practice over tasks (SE over tasks) | worst task vs the better baseline |",
        "|---|---|---|"]
for b, (m, se, (gap, t)) in summary.items():
    out.append(f"| {b:g}s | {m:+.2f} ({se:.2f}) | {gap:+.2f} (task {t}) |")
# Planned vs actual epochs and the deadline, over the rows that measured the speed probe once per
# process (seeds and fresh/; probe-per-row/ measured it per row: see the README).
every = [r for f in [here] + sorted(p for p in here.iterdir() if p.is_dir() and p.name not in ("work", "probe-per-row"))
         for r in rows(f) if r.get("epochs") is not None]
planned = [r for r in every if r.get("planned_epochs")]
within = sum(1 for r in planned if abs(r["epochs"] / r["planned_epochs"] - 1) <= 0.25)
worst_wall = max(r["wall_s"] / r["budget_s"] for r in every)
out += ["", f"Planned vs actual epochs (every row here but probe-per-row/ that plans them; probed rows plan only "
        f"their probes): "
        f"{within} of {len(planned)} within 25% ({100 * within / max(len(planned), 1):.0f}%). "
        f"Every one of the {len(every)} rows ended within {100 * worst_wall:.1f}% of its budget."]
text = "\n".join(out) + "\n"
(here / "seeds.md").write_text(text)
print(text)
