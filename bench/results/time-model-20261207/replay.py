"""Planned vs actual epochs at 32-128 px, held out task by task: the final evaluation priced at the run's own
step (main before 2026-12-07) or at a forward pass (the step with every stage frozen, since).

Reads the experience collection read-only (a collection may be appending to it). Protocol as
``../time-model-20261202/analyse.py`` (whose loading and planning it reuses): runs in collection order; each
task's runs are planned by a calibration fitted only on the runs of earlier tasks (the 2,000 most recent, most
recent first), with the speed probe the run's own process measured. Scored: the runs from ``--first`` on
(default 5552: builtin:photos at every side, then photos, textures, fractals and shapes at 96 and 128 px with
the ImageNet members at 64-128 px) that had their core. The pricing is the code's that runs the script: run it
once with a checkout before the change and once after (README.md).

    .venv/bin/python bench/results/time-model-20261207/replay.py > bench/results/time-model-20261207/forward.txt
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np

from nasoa.meta.timing import calibrate_records

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
_spec = importlib.util.spec_from_file_location("analyse_20261202", HERE.parent / "time-model-20261202/analyse.py")
analyse = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(analyse)
TOL = 0.25


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=analyse.STORE)
    ap.add_argument("--first", type=int, default=5552)
    ap.add_argument("--last", type=int, default=None, help="score runs up to this id (default: every one)")
    args = ap.parse_args()
    zoo = json.loads((ROOT / "zoo/members.json").read_text())["members"]
    runs = analyse.load_runs(args.store)
    cpu = next(r["cpu"] for r in runs if r["cpu"])
    threads = int(runs[-1]["threads"] or 1)
    blocks: list[tuple[int, list[dict]]] = []  # (index of the task's first run, its scored runs)
    for i, run in enumerate(runs):
        if run["id"] < args.first or (args.last and run["id"] > args.last) or not run["speed_probe_ms"]:
            continue
        if blocks and blocks[-1][1][0]["task_id"] == run["task_id"]:
            blocks[-1][1].append(run)
        else:
            blocks.append((next(j for j in range(i + 1) if runs[j]["task_id"] == run["task_id"]), [run]))
    rows = []
    for start, block in blocks:
        history = runs[:start][::-1][:2000]
        probe = float(np.median([r["speed_probe_ms"] for r in block]))
        recs, info = calibrate_records(zoo, history, cpu=cpu, threads=threads, speed_probe=probe)
        plans = analyse.planned(block, recs)
        for j, run in enumerate(block):
            rows.append((run["input_size"], run["frozen_stages"], "imagenet" in run["model_name"],
                         run["epochs"] / plans[j, 0], run["epochs"] / run["recorded_plan"] if run["recorded_plan"] else np.nan,
                         (info.get("overhead") or {}).get("eval_factor"), run["step_ms"] / plans[j, 1],
                         (info.get("overhead") or {}).get("stop_steps")))
    scored = [r for r in rows if np.isfinite(r[3])]
    print(f"{len(scored)} runs scored (ids from {args.first}), {len(blocks)} tasks, each planned by a calibration "
          f"fitted on earlier tasks' runs; eval factor learnt: {np.median([r[5] for r in rows if r[5]]):.3f} "
          f"(median over tasks), steps lost: {np.median([r[7] for r in rows if r[7] is not None] or [np.nan]):.2f}\n")
    print("group                      runs  within 25%  median actual/planned  sd log  measured/planned step  "
          "| recorded plan: within 25%")

    def line(name: str, sel: list[tuple]) -> None:
        if not sel:
            return
        q = np.array([r[3] for r in sel])
        rec = np.array([r[4] for r in sel if np.isfinite(r[4])])
        step = np.median([r[6] for r in sel])
        print(f"{name:25s} {len(q):5d}  {np.mean(np.abs(q - 1) <= TOL):10.0%}  {np.median(q):21.2f}  "
              f"{np.std(np.log(q)):6.3f}  {step:21.2f}  "
              f"| {np.mean(np.abs(rec - 1) <= TOL) if len(rec) else float('nan'):.0%}")

    line("all", scored)
    for side in sorted({r[0] for r in scored}):
        line(f"{side} px", [r for r in scored if r[0] == side])
    for side in (96, 128):
        line(f"{side} px, frozen 0", [r for r in scored if r[0] == side and r[1] == 0])
        line(f"{side} px, frozen 1+", [r for r in scored if r[0] == side and r[1] > 0])
    line("ImageNet members", [r for r in scored if r[2]])
    line("ET-NAS members", [r for r in scored if not r[2]])


if __name__ == "__main__":
    main()
