"""Why plans at 96 and 128 px run fewer epochs than planned: what a run spends outside its steps.

Reads the experience collection read-only (it may be appending). Runs from id 5552 on (builtin:photos at
every side, and photos, textures, fractals and shapes at 96-128 px with the ImageNet members at 64, 96 and
128 px), those that had their core (``cpu_wait`` at most 0.1). For each input side: how the recorded plan
(``time_model_epochs``, the collection's calibrated time model) compares with the epochs run, and the
seconds of the budget not spent stepping (budget - steps x median step). Then a least-squares fit of those
seconds on a constant, the budget (the trainer's margin) and the evaluation work measured two ways: the
validation images times the run's own step time per image (the time model's ``eval_work``), or times the
member's head-only step (every stage frozen, the forward pass) scaled by what the run measured against its
profile. A frozen run's step is cheap against its forward pass; evaluation is all forward pass.

    .venv/bin/python bench/results/photos-side-20261206/overhead.py > bench/results/photos-side-20261206/overhead.txt
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

STORE = Path(__file__).resolve().parents[1] / "collect-20261201" / "collect.sqlite"
FIRST_ID = 5552


def main(path: Path = STORE) -> None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = con.execute("SELECT id, model_features, budget_s, regime, extra, task_features FROM runs "
                       "WHERE id >= ? ORDER BY id", (FIRST_ID,)).fetchall()
    x, y, side, ratio = [], [], [], defaultdict(list)
    last = 0
    for i, mf, budget, regime, extra, tf in rows:
        mf, r, e, t = json.loads(mf), json.loads(regime), json.loads(extra), json.loads(tf)
        if not e.get("steps") or not e.get("step_ms") or (e.get("cpu_wait") or 0.0) > 0.1:
            continue
        last = i
        s = int(e["input_size"])
        if e.get("time_model_epochs") and e.get("epochs"):
            ratio[s].append(e["time_model_epochs"] / e["epochs"])
        table = {int(k): float(v) for k, v in mf["_train_step_ms"].items()}
        measured_vs_profile = e["step_ms"] / table[int(r["frozen_stages"])]
        per_image = float(t["task_num_val"]) / 64.0 / 1000.0  # the profile's batch
        x.append([1.0, budget / 100.0, per_image * e["step_ms"], per_image * table[max(table)] * measured_vs_profile])
        y.append(budget - e["steps"] * e["step_ms"] / 1000.0)
        side.append(s)
    x, y, side = np.array(x), np.array(y), np.array(side)
    print(f"{len(y)} runs, ids {FIRST_ID}-{last}, from {path.name}")
    print("side  runs  plan/run epochs (median)  plans within 25%  seconds outside the steps (median)")
    for s in sorted(ratio):
        v = ratio[s]
        inside = sum(abs(q - 1.0) <= 0.25 for q in v) / len(v)
        print(f"{s:4d}  {len(v):4d}  {statistics.median(v):24.2f}  {inside:16.0%}  {np.median(y[side == s]):8.1f}")
    print("\nfit of the seconds outside the steps: coefficients (constant, budget/100 s, eval work)  rmse  "
          "median residual by side")
    for cols, name in (([0, 1, 2], "eval work at the run's step"), ([0, 1, 3], "eval work at the head-only step")):
        coef, *_ = np.linalg.lstsq(x[:, cols], y, rcond=None)
        res = y - x[:, cols] @ coef
        by_side = "  ".join(f"{s}: {np.median(res[side == s]):+.2f}" for s in sorted(set(side.tolist())))
        print(f"  {name:32s} {np.round(coef, 2)}  {np.sqrt((res ** 2).mean()):.2f}  {by_side}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else STORE)
