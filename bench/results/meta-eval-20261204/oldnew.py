"""Leave-one-family-out top-1 regret of the shipped regressor on a store, over all its tasks and
split by whether a task was already in an older ship (same task id and dataset spec), with luck's
floor for each part. Usage: python oldnew.py NEW_STORE OLD_STORE SEED"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "meta-eval-20261203b"))
from lofo_common import experience, lofo  # noqa: E402

from nasoa.meta.evaluate import regret_floor, summarize, task_metrics  # noqa: E402

new, old, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
full, frame, fam = experience(new)
old_groups = set(experience(old)[1]["group"].unique().to_list())
pred = lofo(frame, fam, seed)
is_old = frame["group"].is_in(list(old_groups)).to_numpy()
for name, m in (("all", np.ones(frame.height, bool)), ("old tasks", is_old), ("new tasks", ~is_old)):
    fr, runs = frame.filter(pl.Series(m)), full.filter(pl.Series(m))
    per = task_metrics(pred[m], fr)
    s = summarize(per)
    fl = regret_floor(runs.select("task_num_val").hstack(fr.select("group", "y")))
    print(f"{name}: {fr['group'].n_unique()} tasks, {fr.height} runs; regret {100 * s['regret']:.2f} "
          f"(floor {100 * fl['regret']:.2f}); spearman median {s['spearman_median']:.3f}")
fam_of = frame.select("group").with_columns(fam.alias("family")).unique("group")
print(task_metrics(pred, frame).join(fam_of, left_on="task", right_on="group").group_by("family").agg(
    pl.col("regret").mean().mul(100).round(2), pl.len()).sort("family"))
if len(sys.argv) > 4:  # save the predictions beside the frame for slicing
    frame.select("group").with_columns(pl.Series("pred", pred), fam.alias("family")).write_parquet(sys.argv[4])
