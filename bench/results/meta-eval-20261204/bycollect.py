"""Leave-one-family-out top-1 regret (the shipped regressor, as `nasoa meta eval`) by the
collection seed that drew each task (``extra.collect.seed``; -1: runs recorded before the
collection kept it). Seeds 12-16 also ran the ImageNet members at 32 and 48 px (`run-sides.sh`).
Usage: python bycollect.py STORE SHIPPED_PARQUET SEED"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "meta-eval-20261203b"))
from lofo_common import experience, lofo  # noqa: E402

from nasoa.meta.evaluate import task_metrics  # noqa: E402

store, parquet, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
full, frame, fam = experience(store)
per = task_metrics(lofo(frame, fam, seed), frame)
drawn = pl.read_parquet(parquet).select(
    pl.col("task_id").alias("task"),
    pl.col("extra").map_elements(lambda e: json.loads(e).get("collect", {}).get("seed", -1),
                                 return_dtype=pl.Int64).alias("collect_seed")).unique("task")
print(per.join(drawn, on="task", how="left").group_by("collect_seed").agg(
    pl.col("regret").mean().mul(100).round(2).alias("regret_points"), pl.len().alias("tasks")).sort("collect_seed"))
