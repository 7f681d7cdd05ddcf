"""Does a run's validation loss or training accuracy say more about its expected accuracy than its
validation accuracy alone? Each run of the three noise samples (../noise-2026120*/) was run again at
a fresh seed (pooled as ../noise-20261204b/compare.py counts them: both runs had 80% of a core, the
task's selection ran to the end; the first replicate); within each task, the replicate's accuracy
(deviation from the task's mean) is regressed on the original's accuracy, and on it plus the original's log validation loss or training
accuracy (both recorded in every run's ``extra``). If either added information, the meta-model could
learn from a less noisy target.

    nasoa meta import meta/data/experience.parquet --store S
    python denoise.py S
"""
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "noise-20261204b"))
from compare import pooled_pairs  # noqa: E402  (the three samples' clean pairs, as their pooled reading counts them)

extra = {u: json.loads(e) for u, e in sqlite3.connect(sys.argv[1]).execute("select uid, extra from runs")}
rows = []
for uid, run in pooled_pairs()[0].items():
    e = extra.get(uid) or {}
    loss, train = e.get("val_loss"), e.get("train_accuracy")
    if loss is None or not np.isfinite(loss) or loss <= 0 or train is None:
        continue
    rows.append((run["task_id"], run["y"], run["reps"][0], float(np.log(loss)), float(train)))
f = pl.DataFrame(rows, schema=["task", "y", "y_rep", "log_loss", "train_acc"], orient="row").unique()
f = f.with_columns([(pl.col(c) - pl.col(c).mean().over("task")).alias(c) for c in ("y", "y_rep", "log_loss", "train_acc")])
target = f["y_rep"].to_numpy()
print(f"{f.height} pairs on {f['task'].n_unique()} tasks; within-task deviations, least squares")
for cols in (["y"], ["y", "log_loss"], ["y", "train_acc"], ["log_loss"]):
    x = f.select(cols).to_numpy()
    coef = np.linalg.lstsq(x, target, rcond=None)[0]
    r2 = 1 - np.var(target - x @ coef) / np.var(target)
    print(f"replicate ~ {' + '.join(cols):<20} coefficients {np.round(coef, 4).tolist()}  R2 {r2:.4f}")
