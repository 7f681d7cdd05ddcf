"""Two sets of held-out predictions compared decision by decision (a task at one budget, 2+ runs) on
the decisions both rank: mean regret of each, their paired difference with its standard error, and
how many decisions changed pick; also over the runs at the members' profiled sides only (the choices
the shipped grid offers: no ImageNet member below 64 px).

    python paired.py A.parquet B.parquet STORE     # A, B: SAVE=... variants.py outputs; STORE: B's store
"""
import sys
from pathlib import Path

import numpy as np
import polars as pl

runs = pl.read_parquet(Path(sys.argv[3]).with_suffix(".frame.parquet")).select("id", "model_name", "model_input_size")


def decisions(path: str, offered: bool) -> dict:
    p = pl.read_parquet(path).join(runs, on="id")
    if offered:
        p = p.filter(~pl.col("model_name").str.contains("imagenet") | (pl.col("model_input_size") >= 64))
    return {k: 100 * (x["y"].max() - x.sort("pred", descending=True)["y"][0])
            for k, x in p.group_by(["group", "budget_s"]) if x.height >= 2}


for offered in (False, True):
    a, b = decisions(sys.argv[1], offered), decisions(sys.argv[2], offered)
    keys = [k for k in a if k in b]
    d = np.array([b[k] - a[k] for k in keys])
    print(f"{'profiled sides' if offered else 'all runs'}: {len(keys)} decisions, A {np.mean([a[k] for k in keys]):.2f} "
          f"B {np.mean([b[k] for k in keys]):.2f}, B - A {d.mean():+.3f} (se {d.std(ddof=1) / np.sqrt(len(d)):.3f}); "
          f"{np.sum(d != 0)} changed pick: B better on {np.sum(d < 0)}, worse on {np.sum(d > 0)}")
