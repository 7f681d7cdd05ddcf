"""Where the per-decision regret of saved predictions sits: by budget, training images a class, first-ranked
member; the decisions that miss by more than 8 points.   python analyse.py P-SEED.parquet STORE"""
import sys
from pathlib import Path

import numpy as np
import polars as pl
p = pl.read_parquet(sys.argv[1])
f = pl.read_parquet(Path(sys.argv[2]).with_suffix('.frame.parquet')).select("id", "model_name", "frozen_stages", "lr_log10", "optimizer",
    "knn", "knn_gap", "task_num_classes", "task_per_class_mean", "task_num_val", "task_native_channels", "task_image_size", "model_input_size", "planned_epochs")
d = p.join(f, on="id")
rows = []
for (g, b), x in d.group_by(["group", "budget_s"]):
    if x.height < 2: continue
    best = x.sort("y", descending=True).row(0, named=True)
    pick = x.sort("pred", descending=True).row(0, named=True)
    rows.append({"group": g, "budget": b, "family": best["family"], "n": x.height, "regret": 100 * (best["y"] - pick["y"]),
                 "pick": pick["model_name"], "best": best["model_name"], "pick_side": pick["model_input_size"],
                 "pick_knn_gap": pick["knn_gap"], "best_knn_gap": best["knn_gap"], "ppc": best["task_per_class_mean"],
                 "pick_lr": pick["lr_log10"], "best_lr": best["lr_log10"], "pick_fz": pick["frozen_stages"], "best_fz": best["frozen_stages"],
                 "nval": best["task_num_val"], "ch": best["task_native_channels"], "spread": 100 * (x["y"].max() - x["y"].min()),
                 "best_member_in_decision": pick["model_name"] == best["model_name"]})
r = pl.DataFrame(rows)
print("decisions", r.height, "mean regret", r["regret"].mean())
print("share of regret from top 10% decisions:", r.sort("regret", descending=True).head(r.height // 10)["regret"].sum() / r["regret"].sum())
print(r.group_by("budget").agg(pl.len(), pl.col("regret").mean()).sort("budget"))
print(r.with_columns(pl.col("ppc").cut([10, 30, 100]).alias("ppc_bin")).group_by("ppc_bin").agg(pl.len(), pl.col("regret").mean().alias("mean"), pl.col("regret").sum().alias("sum")).sort("ppc_bin"))
print(r.group_by("pick").agg(pl.len(), pl.col("regret").mean().alias("mean"), pl.col("regret").sum().alias("sum")).sort("sum", descending=True))
print(r.with_columns((pl.col("pick") == pl.col("best")).alias("same")).group_by("same").agg(pl.len(), pl.col("regret").sum()))
big = r.filter(pl.col("regret") > 8)
print("big misses", big.height, "sum", big["regret"].sum())
print(big.select("family", "budget", "n", "regret", "pick", "pick_side", "pick_lr", "pick_fz", "best", "best_lr", "best_fz", "pick_knn_gap", "best_knn_gap", "ppc").sort("regret", descending=True).head(40))
pl.Config.set_tbl_rows(120); pl.Config.set_tbl_cols(20); pl.Config.set_tbl_width_chars(250)
print(big.select("family", "budget", "n", pl.col("regret").round(1), "pick", "pick_side", pl.col("pick_lr").round(1), "pick_fz", "best", pl.col("best_lr").round(1), "best_fz", pl.col("pick_knn_gap").round(2), pl.col("best_knn_gap").round(2), "ppc", "nval", "ch").sort("regret", descending=True))
