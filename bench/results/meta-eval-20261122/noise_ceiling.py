"""The noise ceiling quoted in README.md: re-draw each run's validation accuracy with binomial
noise (its validation split's size) and correlate with the observed accuracy, per task.

    python bench/results/meta-eval-20261122/noise_ceiling.py
"""

import json
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr

here = Path(__file__).parent
f = pl.read_parquet(here.parents[2] / "meta" / "data" / "experience.parquet")
per = {r["task"]: r["spearman"] for r in json.loads((here / "eval.json").read_text())["per_task"]["lgbm-regressor"]}
rng = np.random.default_rng(0)
rows = []
for (tid,), g in f.group_by("task_id", maintain_order=True):
    y = g["val_accuracy"].to_numpy()
    n_val = json.loads(g["task_features"][0])["task_num_val"]
    sd = np.sqrt(np.clip(y * (1 - y), 1e-4, None) / n_val)
    sims = [spearmanr(y, y + rng.normal(0, sd)).statistic for _ in range(200)]
    rows.append({"source": g["task_spec"][0].split("?")[0].split(":")[1], "n_val": n_val, "spread": float(y.std()),
                 "noise": float(sd.mean()), "ceiling": float(np.nanmean(sims)), "lgbm": per.get(tid)})
d = pl.DataFrame(rows)
print(d.select(pl.len(), *(pl.col(c).median() for c in ("ceiling", "lgbm", "spread", "noise"))))
print(d.group_by("source").agg(pl.len(), *(pl.col(c).median() for c in ("lgbm", "ceiling", "spread", "noise", "n_val"))))
