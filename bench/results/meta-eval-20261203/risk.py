"""Risk-averse picks (tried, not shipped): rank by prediction - LAMBDA x the spread (sd) of the
key's "accuracy minus the task's best" over the training families' tasks (shrunk toward the overall
sd by 3 runs), keys: the prior's cell (member, frozen stages, lr to half a decade, optimizer), the
member, the member x budget. Uses lofo.py's saved predictions:

    python risk.py STORE base        # after: python lofo.py STORE base lgbm-regressor '{}'
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

from common import load
from nasoa.meta.evaluate import summarize, task_metrics

store, name = sys.argv[1], sys.argv[2]
full = load(store)
P = np.load(Path(__file__).with_name("preds") / f"{name}.npz")["P"]
fam = full["family"].to_numpy()
d = full.join(full.group_by("group").agg(pl.col("y").max().alias("best"), pl.len().alias("n")), on="group", how="left")
rel, n = (d["y"] - d["best"]).to_numpy(), d["n"].to_numpy()
lr2 = np.round(2 * full["lr_log10"].to_numpy()).astype(int)
keys = {"cell": [f"{a}|{b}|{c}|{o}" for a, b, c, o in zip(full["model_name"], full["frozen_stages"], lr2, full["optimizer"])],
        "member": full["model_name"].to_list(),
        "member x budget": [f"{a}|{b}" for a, b in zip(full["model_name"], full["budget_s"])]}
scored = full.select("y", "group")
for kname, kv in keys.items():
    kv = np.array(kv)
    sd = np.zeros(len(kv))
    for f in np.unique(fam):
        tr = (fam != f) & (n >= 3)
        st = pl.DataFrame({"k": kv[tr], "r": rel[tr]}).group_by("k").agg(pl.col("r").std().alias("sd"), pl.len().alias("c"))
        overall = float(np.std(rel[tr]))
        shrunk = dict(zip(st["k"], ((st["sd"].fill_null(overall) * st["c"] + 3 * overall) / (st["c"] + 3)).to_list()))
        sd[fam == f] = [shrunk.get(k, overall) for k in kv[fam == f]]
    for lam in (0.0, 0.1, 0.2, 0.3, 0.5, 0.8):
        r = [100 * summarize(task_metrics(p - lam * sd, scored))["regret"] for p in P]
        print(f"{kname}, lambda {lam}: regret {np.round(r, 2).tolist()} points, mean {np.mean(r):.2f}")
