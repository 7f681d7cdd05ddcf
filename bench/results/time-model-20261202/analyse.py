"""Planned vs actual epochs across machines: the time model keyed by the CPU's name against the one
rescaled by the machine's speed probe (``extra.speed_probe_ms``, :mod:`nasoa.meta.timing`).

Reads the experience collection read-only (a collection may be appending to it). Held-out protocol
(as ``../time-model-20261201/analyse.py``): runs in collection order, task by task; each task's runs
are planned by a calibration fitted only on the runs of earlier tasks (the store's bounded query:
the 2,000 most recent, most recent first); no run of the task itself is seen. Scored: the runs that
recorded a speed probe (this machine), once a history holds at least ``MIN_PROBED_RUNS`` of them
(before that the probe is not used either way). Both calibrations see the same history:

* ``label``: ``calibrate_records`` without a probe: runs of this CPU name enter unscaled (what
  main did before the probe; earlier runs came from other VMs of the same name);
* ``probe``: with the probe the run's own process measured when it started (what the collection's
  planner and ``nasoa adapt`` read): probed runs rescaled by the probe ratio, unprobed runs of this
  CPU name with a free offset.

    taskset -c 0 .venv/bin/python bench/results/time-model-20261202/analyse.py > bench/results/time-model-20261202/analysis.txt
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl

from nasoa.meta.descriptors import descriptor
from nasoa.meta.features import TimeModel, _base_row, derive
from nasoa.meta.timing import MIN_CPU_SHARE, MIN_PROBED_RUNS, calibrate_records

ROOT = Path(__file__).resolve().parents[3]
# Runs up to this id recorded the first, wall-clock probe (see ../collect-20261201/combine.py): read
# here as runs of unknown speed, as they ship.
WALL_PROBE_LAST_ID = 2050
STORE = ROOT / "bench/results/collect-20261201/collect.sqlite"
TOL = 0.25


def load_runs(path: Path) -> list[dict]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = con.execute("SELECT id, task_id, model_name, regime, budget_s, stop_reason, extra, task_features "
                       "FROM runs ORDER BY id").fetchall()
    out = []
    for i, tid, name, regime, budget, stop, extra, tf in rows:
        e, r, t = json.loads(extra), json.loads(regime), json.loads(tf)
        if e.get("step_ms") is None or e.get("epochs") is None:
            continue
        if e.get("cpu_share") is not None and e["cpu_share"] < MIN_CPU_SHARE:
            continue  # shared its core: the calibration leaves it out, and so does the scoring
        m = e.get("machine") or {}
        out.append({
            "id": i, "task_id": tid, "model_name": name, "regime": r, "frozen_stages": int(r.get("frozen_stages") or 0),
            "batch_size": e.get("batch_size"), "step_ms": e["step_ms"], "threads": e.get("threads", m.get("cores")),
            "cpu": m.get("cpu"), "cpu_share": e.get("cpu_share"), "input_size": e.get("input_size"),
            "budget_s": budget, "steps": e.get("steps"), "stop_reason": stop, "num_val": t.get("task_num_val"),
            "epochs": e["epochs"], "recorded_plan": e.get("time_model_epochs"), "task_features": t,
            "speed_probe_ms": e.get("speed_probe_ms") if i > WALL_PROBE_LAST_ID else None,
        })
    return out


def planned(runs: list[dict], records: list[dict]) -> np.ndarray:
    """Planned epochs and step ms for each run's (member, regime, task, budget, input side)."""
    by_name = {r["name"]: descriptor(r) for r in records}
    base = [_base_row(run["task_features"], by_name[run["model_name"]], {**run["regime"], "batch_size": run["batch_size"]},
                      run["budget_s"], input_size=run["input_size"]) for run in runs]
    return derive(pl.DataFrame(base, infer_schema_length=None), TimeModel()).select("planned_epochs", "step_ms").to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=STORE)
    args = ap.parse_args()
    zoo = json.loads((ROOT / "zoo/members.json").read_text())["members"]
    runs = load_runs(args.store)
    cpu = next(r["cpu"] for r in runs if r["cpu"])
    threads = int(runs[-1]["threads"] or 1)
    probed_ids = [r["id"] for r in runs if r["speed_probe_ms"]]
    print(f"store {args.store.relative_to(ROOT)}: {len(runs)} runs with measurements and cpu_share >= {MIN_CPU_SHARE}, "
          f"{len(probed_ids)} of them probed (ids {min(probed_ids)}-{max(probed_ids)}); cpu {cpu}; threads {threads}\n")
    blocks: list[tuple[int, list[dict]]] = []  # (index of the task's first run, its probed runs)
    for i, run in enumerate(runs):
        if not run["speed_probe_ms"]:
            continue
        if blocks and blocks[-1][1][0]["task_id"] == run["task_id"]:
            blocks[-1][1].append(run)
        else:
            blocks.append((next(j for j in range(i + 1) if runs[j]["task_id"] == run["task_id"]), [run]))
    evals = []
    for start, block in blocks:
        history = runs[:start][::-1][:2000]
        if sum(1 for h in history if h["speed_probe_ms"]) < MIN_PROBED_RUNS:
            continue
        probe = float(np.median([r["speed_probe_ms"] for r in block]))  # one process's probe (cached for minutes)
        plans = {}
        for label, kw in (("label", {}), ("probe", {"speed_probe": probe})):
            recs, info = calibrate_records(zoo, history, cpu=cpu, threads=threads, **kw)
            plans[label] = planned(block, recs)
            assert label == "label" or info["speed_by"] == "probe", info
        for j, run in enumerate(block):
            evals.append({"id": run["id"], "budget_s": run["budget_s"], "model_name": run["model_name"],
                          "actual": run["epochs"], "recorded": run["recorded_plan"], "step_ms": run["step_ms"],
                          **{c: plans[c][j, 0] for c in plans}, **{f"step_{c}": plans[c][j, 1] for c in plans}})
    ev = pl.DataFrame(evals)
    print(f"held out: {ev.height} probed runs (ids {ev['id'].min()}-{ev['id'].max()}), each planned by a calibration "
          f"fitted on the runs of earlier tasks only\n")

    def summary(g: pl.DataFrame) -> dict:
        out = {"runs": g.height}
        for c in ("recorded", "label", "probe"):
            r = (g["actual"] / g[c]).drop_nulls().to_numpy()
            out[f"{c}_within"] = round(float(np.mean(np.abs(r - 1.0) <= TOL)), 3) if len(r) else None
            out[f"{c}_median"] = round(float(np.median(r)), 3) if len(r) else None
            out[f"{c}_sd"] = round(float(np.std(np.log(r))), 3) if len(r) else None
        for c in ("label", "probe"):  # mean log(predicted / measured step)
            out[f"{c}_step_part"] = round(float(np.mean(np.log((g[f"step_{c}"] / g["step_ms"]).to_numpy()))), 3)
        return out

    rows = [{"group": "all", **summary(ev)}]
    rows += [{"group": f"{b:g} s", **summary(ev.filter(pl.col("budget_s") == b))} for b in sorted(ev["budget_s"].unique())]
    fam = ev.with_columns(f=pl.col("model_name").str.contains("imagenet"))
    rows += [{"group": "ImageNet members", **summary(fam.filter(pl.col("f")))},
             {"group": "etnas members", **summary(fam.filter(~pl.col("f")))}]
    with pl.Config(tbl_rows=40, tbl_cols=30, tbl_width_chars=260, tbl_hide_dataframe_shape=True):
        print("within: share with actual epochs within 25% of planned; median: actual / planned; sd: of log(actual / "
              "planned); step_part: mean log(predicted / measured step).\nrecorded = what the collection planned "
              "when it sampled the run (its calibration then)\n")
        print(pl.DataFrame(rows))


if __name__ == "__main__":
    main()
