"""Does a run's validation loss or training accuracy say more about its expected accuracy than its
validation accuracy alone? Each run of the three noise samples (../noise-2026120*/) was run again at
a fresh seed; within each task, the replicate's accuracy (deviation from the task's mean) is
regressed on the original's accuracy, and on it plus the original's log validation loss or training
accuracy (both recorded in every run's ``extra``). If either added information, the meta-model could
learn from a less noisy target.

    nasoa meta import meta/data/experience.parquet --store S
    python denoise.py S
"""
import glob
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
extra = {u: json.loads(e) for u, e in sqlite3.connect(sys.argv[1]).execute("select uid, extra from runs")}
rows = []
for fn in sorted(glob.glob(str(HERE.parent / "noise-2026120*" / "noise-shard*.jsonl"))):
    for line in open(fn):
        d = json.loads(line)
        e = extra.get(d["uid"])
        if e is None or d.get("y_rep") is None or min(d.get("cpu_share", 1), d.get("cpu_share_rep", 1)) < 0.8:
            continue  # the pairs the noise benches count: both runs had 80% of a core, the same epochs
        if abs(d.get("epochs_rep", 0) - d.get("epochs", 0)) > 0.05 * max(d.get("epochs", 1), 1):
            continue
        loss, train = e.get("val_loss"), e.get("train_accuracy")
        if loss is None or not np.isfinite(loss) or loss <= 0 or train is None:
            continue
        rows.append((d["task_id"], d["y"], d["y_rep"], float(np.log(loss)), float(train)))
f = pl.DataFrame(rows, schema=["task", "y", "y_rep", "log_loss", "train_acc"], orient="row").unique()
f = f.with_columns([(pl.col(c) - pl.col(c).mean().over("task")).alias(c) for c in ("y", "y_rep", "log_loss", "train_acc")])
target = f["y_rep"].to_numpy()
print(f"{f.height} pairs on {f['task'].n_unique()} tasks; within-task deviations, least squares")
for cols in (["y"], ["y", "log_loss"], ["y", "train_acc"], ["log_loss"]):
    x = f.select(cols).to_numpy()
    coef = np.linalg.lstsq(x, target, rcond=None)[0]
    r2 = 1 - np.var(target - x @ coef) / np.var(target)
    print(f"replicate ~ {' + '.join(cols):<20} coefficients {np.round(coef, 4).tolist()}  R2 {r2:.4f}")
