"""Where the time model's planned epochs go wrong, and how far the calibrated one gets them right.

Reads the experience collection read-only (a collection may be appending to it) and prints:

1. the diagnosis of the epochs each run was planned when it was sampled (``extra.time_model_epochs``)
   against those it ran (``extra.epochs``): the log ratio split exactly into a step-time part
   (predicted vs measured median step) and a training-window part (predicted vs measured time
   spent stepping), by budget and member; the unused time (set-up, evaluation, margin, median vs
   mean step) by member family and budget; the within-(member, frozen, batch) spread of the step
   time (noise no term can remove);
2. the held-out evaluation: runs in collection order, task by task; each task's runs are planned by
   a time model calibrated only on the runs of earlier tasks (as the collection re-calibrates at
   each task), once with the calibration of :data:`BEFORE` (main before this change, read from
   git) and once with the working tree's; the first ``--warm`` runs serve only as history.
   Printed: the share of runs whose actual epochs are within 25% of planned, per budget, member
   family and half, and the spread of log(actual / planned).

    taskset -c 0 .venv/bin/python bench/results/time-model-20261201/analyse.py
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import subprocess
import types
from pathlib import Path

import numpy as np
import polars as pl

from nasoa.core.deadline import MARGIN_FRAC, MARGIN_S
from nasoa.meta.descriptors import descriptor
from nasoa.meta.features import TimeModel, _base_row, derive
from nasoa.meta.timing import MIN_CPU_SHARE, calibrate_records

ROOT = Path(__file__).resolve().parents[3]
STORE = ROOT / "bench/results/collect-20261201/collect.sqlite"
BEFORE = "5d59475"  # main before this change: per-member factors, linear batch, fixed overheads
TOL = 0.25


def load_runs(path: Path) -> list[dict]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = con.execute("SELECT id, created, task_id, model_name, regime, budget_s, elapsed_s, stop_reason, extra, "
                       "task_features FROM runs ORDER BY id").fetchall()
    out = []
    for i, created, tid, name, regime, budget, elapsed, stop, extra, tf in rows:
        e, r, t = json.loads(extra), json.loads(regime), json.loads(tf)
        if e.get("step_ms") is None or e.get("epochs") is None:
            continue
        m = e.get("machine") or {}
        out.append({
            "id": i, "created": created, "task_id": tid, "model_name": name, "regime": r,
            "frozen_stages": int(r.get("frozen_stages") or 0), "batch_size": e.get("batch_size"),
            "step_ms": e["step_ms"], "threads": e.get("threads", m.get("cores")), "cpu": m.get("cpu"),
            "cpu_share": e.get("cpu_share"), "input_size": e.get("input_size"), "budget_s": budget,
            "steps": e.get("steps"), "stop_reason": stop, "num_val": t.get("task_num_val"),
            "num_train": t.get("task_num_train"), "epochs": e["epochs"], "recorded_plan": e.get("time_model_epochs"),
            "elapsed_s": elapsed, "task_features": t,
        })
    return out


def old_calibration():
    """``calibrate_records`` as it was at :data:`BEFORE` (read from git, not imported from the tree)."""
    src = subprocess.run(["git", "show", f"{BEFORE}:meta/timing.py"], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    mod = types.ModuleType("timing_before")
    exec(compile(src, "timing_before.py", "exec"), mod.__dict__)
    return mod.calibrate_records


def planned_epochs(runs: list[dict], records: list[dict]) -> np.ndarray:
    """The time model's planned epochs for each run's (member, regime, task, budget)."""
    by_name = {r["name"]: descriptor(r) for r in records}
    base = [_base_row(run["task_features"], by_name[run["model_name"]],
                      {**run["regime"], "batch_size": run["batch_size"]}, run["budget_s"]) for run in runs]
    frame = derive(pl.DataFrame(base, infer_schema_length=None), TimeModel())
    return frame.select("planned_epochs", "step_ms").to_numpy()


def within(ratio: np.ndarray) -> float:
    return float(np.mean(np.abs(ratio - 1.0) <= TOL))


def diagnose(runs: list[dict], zoo: dict[str, dict]) -> None:
    df = pl.DataFrame([{k: v for k, v in r.items() if k not in ("regime", "task_features")} for r in runs])
    df = df.filter(pl.col("recorded_plan").is_not_null())
    b, bs, n = pl.col("budget_s"), pl.col("batch_size").cast(pl.Float64), pl.col("num_train")
    margin = MARGIN_S + MARGIN_FRAC * b  # nasoa.core.deadline.margin_s, as a polars expression
    spe = pl.when(n >= 2 * bs).then((n / bs).floor()).otherwise((n / bs).ceil())
    # The planner's own inversion: planned = (B - 1.5 - margin - 0.35*nval*s/bs) / (spe*s)  -> its s.
    s_pred = (b - 1.5 - margin) / (pl.col("recorded_plan") * spe + pl.col("num_val") / bs * 0.35)
    window = pl.col("steps") * pl.col("step_ms") / 1000
    df = df.with_columns(
        log_ratio=(pl.col("epochs") / pl.col("recorded_plan")).log(),
        step_part=(s_pred * 1000 / pl.col("step_ms")).log(),
        window_part=(window / (b - 1.5 - margin - pl.col("num_val") / bs * 0.35 * s_pred)).log(),
        unused_s=b - margin - window,
        family=pl.when(pl.col("model_name").str.contains("imagenet")).then(pl.lit("imagenet"))
        .otherwise(pl.lit("etnas")),
        ok=((pl.col("epochs") / pl.col("recorded_plan")) - 1).abs() <= TOL,
    )
    print(f"## 1. Diagnosis: {df.height} runs (cpu_share >= {MIN_CPU_SHARE}), as planned when sampled\n")
    print("log(actual / planned epochs) = step part (log predicted / measured median step) + window part "
          "(log time spent stepping / predicted)\n")
    agg = [pl.len().alias("runs"), pl.col("ok").mean().round(3).alias("within_25%"),
           pl.col("log_ratio").mean().round(3).alias("mean_log_ratio"), pl.col("log_ratio").std().round(3).alias("sd"),
           pl.col("step_part").mean().round(3).alias("step_mean"), pl.col("step_part").std().round(3).alias("step_sd"),
           pl.col("window_part").mean().round(3).alias("window_mean"),
           pl.col("window_part").std().round(3).alias("window_sd")]
    with pl.Config(tbl_rows=40, tbl_cols=20, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        print(df.select(agg))
        print(df.group_by("budget_s").agg(agg).sort("budget_s"))
        print(df.group_by("model_name").agg(agg).sort("model_name"))
        print("\nunused time beyond the margin (s): set-up, evaluation and its reserve, the stop rule, mean vs median step")
        print(df.group_by("family", "budget_s").agg(
            pl.len().alias("runs"), pl.col("unused_s").median().round(2).alias("median"),
            pl.col("unused_s").quantile(0.1).round(2).alias("q10"),
            pl.col("unused_s").quantile(0.9).round(2).alias("q90")).sort("family", "budget_s"))
    # Step-time spread no term can remove: the spread within (member, frozen, batch) cells.
    ls = df.with_columns(ls=pl.col("step_ms").log())
    cells = ls.group_by("model_name", "frozen_stages", "batch_size").agg(pl.len().alias("k"), pl.col("ls").std())
    pooled = cells.filter(pl.col("k") > 1)
    sd = math.sqrt(float((pooled["ls"] ** 2 * (pooled["k"] - 1)).sum() / (pooled["k"] - 1).sum()))
    ratio = ls.with_columns(r=(pl.col("step_ms") / pl.struct("model_name", "frozen_stages").map_elements(
        lambda s: _ref(zoo[s["model_name"]], s["frozen_stages"]), return_dtype=pl.Float64)).log())
    print(f"\nstep time: pooled within-cell sd of log step {sd:.3f} ({pooled.height} repeated cells); log(measured / "
          f"profiled) by member (median, sd):")
    print(ratio.group_by("model_name").agg(pl.col("r").median().round(3), pl.col("r").std().round(3).alias("sd"))
          .sort("model_name"))


def _ref(rec: dict, frozen: int) -> float:
    table = rec["train_step_ms"]
    k = min((int(k) for k in table), key=lambda j: (abs(j - frozen), j))
    return float(table[str(k)])


def evaluate(runs: list[dict], zoo_records: list[dict], warm: int, cpu: str, **after_kw) -> None:
    before_cal = old_calibration()
    ok_runs = [r for r in runs if r["cpu_share"] is None or r["cpu_share"] >= MIN_CPU_SHARE]
    threads = int(ok_runs[0]["threads"] or 1)
    evals = []
    # Blocks: the held-out runs of one task at a time (in collection order), planned by a calibration
    # fitted on the runs before the task's first one, as the collection does: no run of the task is seen.
    blocks: list[tuple[int, list[dict]]] = []
    for i, run in enumerate(ok_runs[warm:], start=warm):
        if blocks and blocks[-1][1][0]["task_id"] == run["task_id"]:
            blocks[-1][1].append(run)
        else:
            first = next(j for j in range(i + 1) if ok_runs[j]["task_id"] == run["task_id"]) if i == warm else i
            blocks.append((first, [run]))
    for start, block in blocks:
        history = ok_runs[:start][::-1][:2000]  # most recent first, as the store's bounded query
        plans = {}
        for label, cal, kw in (("before", before_cal, {}), ("after", calibrate_records, after_kw)):
            recs, _ = cal(zoo_records, history, cpu=cpu, threads=threads, **kw)
            plans[label] = planned_epochs(block, recs)
        for j, run in enumerate(block):
            evals.append({"id": run["id"], "budget_s": run["budget_s"], "model_name": run["model_name"],
                          "actual": run["epochs"], "before": plans["before"][j, 0], "after": plans["after"][j, 0],
                          "recorded": run["recorded_plan"], "step_ms": run["step_ms"],
                          "step_before": plans["before"][j, 1], "step_after": plans["after"][j, 1]})
    ev = pl.DataFrame(evals).with_columns(
        (pl.col("actual") / pl.col(c)).alias(f"r_{c}") for c in ("before", "after", "recorded"))
    print(f"\n## 2. Held-out: {ev.height} runs (ids {ev['id'].min()}-{ev['id'].max()}, {len(blocks)} tasks), each planned "
          f"by a calibration fitted only on the runs of earlier tasks (at least {warm} runs)\n")

    def summary(g: pl.DataFrame) -> dict:
        out = {"runs": g.height}
        for c in ("recorded", "before", "after"):
            r = g[f"r_{c}"].drop_nulls().to_numpy()
            out[f"{c}_within"] = round(within(r), 3) if len(r) else None
            out[f"{c}_sd"] = round(float(np.std(np.log(r))), 3) if len(r) else None
            out[f"{c}_median"] = round(float(np.median(r)), 3) if len(r) else None
        for c in ("before", "after"):  # the step-time part of the log ratio (predicted / measured step)
            out[f"{c}_step_part"] = round(float(np.mean(np.log((g[f"step_{c}"] / g["step_ms"]).to_numpy()))), 3)
        return out

    rows = [{"budget_s": "all", **summary(ev)}]
    for b in sorted(ev["budget_s"].unique()):
        rows.append({"budget_s": f"{b:g}", **summary(ev.filter(pl.col("budget_s") == b))})
    fam = ev.with_columns(family=pl.when(pl.col("model_name").str.contains("imagenet")).then(pl.lit("imagenet"))
                          .otherwise(pl.lit("etnas")))
    for f in ("etnas", "imagenet"):
        rows.append({"budget_s": f, **summary(fam.filter(pl.col("family") == f))})
    half = ev.height // 2  # with more history: the later half of the held-out runs
    rows.append({"budget_s": "first half", **summary(ev.head(half))})
    rows.append({"budget_s": "second half", **summary(ev.tail(ev.height - half))})
    with pl.Config(tbl_rows=40, tbl_cols=20, tbl_width_chars=220, tbl_hide_dataframe_shape=True):
        print("within: share of runs with actual epochs within 25% of planned; sd: of log(actual / planned); "
              "median: actual / planned.\nrecorded = what the collection planned (calibrated then, on fewer "
              "runs), before = the shipped calibration, after = this one, both fitted on the same history\n")
        print(pl.DataFrame(rows))


def ceiling(runs: list[dict], zoo_records: list[dict], cpu: str) -> None:
    """Fitted on every run and scored on the same runs: not a held-out number, the most this form of
    time model could reach on these runs given their per-run noise."""
    ok = [r for r in runs if r["cpu_share"] is None or r["cpu_share"] >= MIN_CPU_SHARE]
    recs, info = calibrate_records(zoo_records, ok[::-1], cpu=cpu, threads=int(ok[0]["threads"] or 1))
    plan = planned_epochs(ok, recs)
    ratio = np.array([r["epochs"] for r in ok]) / plan[:, 0]
    step = np.log(np.array([r["step_ms"] for r in ok]) / plan[:, 1])
    print(f"\n## 3. In-sample ceiling (fit and score on all {len(ok)} runs; not held-out): within 25% "
          f"{within(ratio):.3f}, sd of log(actual / planned) {np.std(np.log(ratio)):.3f}, of log(measured / "
          f"predicted step) {np.std(step):.3f}")
    print("calibration fitted on all runs:", json.dumps({k: info[k] for k in ("global_factor", "slopes", "overhead")},
                                                         default=lambda v: round(v, 3)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=STORE)
    ap.add_argument("--warm", type=int, default=60, help="runs used only as history before the first held-out run")
    ap.add_argument("--prior-runs", type=float, default=None, help="the calibration's shrinkage (default: its own)")
    ap.add_argument("--skip-diagnosis", action="store_true")
    args = ap.parse_args()
    kw = {"prior_runs": args.prior_runs} if args.prior_runs is not None else {}
    zoo = json.loads((ROOT / "zoo/members.json").read_text())["members"]
    runs = load_runs(args.store)
    cpu = next(r["cpu"] for r in runs if r["cpu"])
    print(f"store {args.store.relative_to(ROOT)}: {len(runs)} runs with measurements, ids {runs[0]['id']}-"
          f"{runs[-1]['id']}; cpu {cpu}\n")
    ok = [r for r in runs if r["cpu_share"] is None or r["cpu_share"] >= MIN_CPU_SHARE]
    if not args.skip_diagnosis:
        diagnose(ok, {m["name"]: m for m in zoo})
    evaluate(runs, zoo, args.warm, cpu, **kw)
    ceiling(runs, zoo, cpu)


if __name__ == "__main__":
    main()
