"""The regret on the tasks of the previous ship and on the tasks collected since, from one set of
held-out predictions (``variants.py`` with SAVE on the combined store).

    python oldnew.py P-SEED.parquet OLD_STORE      # OLD_STORE: the previous ship, imported (its .frame.parquet)
"""
import sys
from pathlib import Path

import numpy as np
import polars as pl

pred = pl.read_parquet(sys.argv[1])
old = set(pl.read_parquet(Path(sys.argv[2]).with_suffix(".frame.parquet"))["group"].unique().to_list())


def regret(frame: pl.DataFrame, keys: list[str]) -> tuple[float, int]:
    r = [100 * (x["y"].max() - x.sort("pred", descending=True)["y"][0]) for _, x in frame.group_by(keys)
         if x.height >= 2]
    return float(np.mean(r)) if r else float("nan"), len(r)


for name, part in (("all", pred), ("previous ship's tasks", pred.filter(pl.col("group").is_in(list(old)))),
                   ("tasks collected since", pred.filter(~pl.col("group").is_in(list(old))))):
    (t, nt), (d, nd) = regret(part, ["group"]), regret(part, ["group", "budget_s"])
    print(f"{sys.argv[1]}: {name}: per task {t:.2f} over {nt} tasks, per decision {d:.2f} over {nd} decisions")
