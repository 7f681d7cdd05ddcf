"""A task-conditional regime prior (tried, not shipped): for each member (``--key m``), or member x
frozen stages (``mf``), or member x learning rate to half a decade (``ml``), how its runs did
(accuracy minus the task's best; share failed) on the K training tasks nearest to the task in
standardized meta-features (plus each member's k-NN transferability score), shrunk toward the
key's mean over all training tasks by PSEUDO runs. Added as features next to the shipped
cell prior; leave one family out, three seeds, as lofo.py.

    python near.py STORE NAME '{"keys": ["m"], "k": 15, "pseudo": 3, "leave_family": true, "knnvec": true}'

``leave_family``: a training row's neighbours come from other families than its own (as a held-out
task's do); otherwise only its own task is left out."""

from __future__ import annotations

import json
import math
import sys
import time

import numpy as np
import polars as pl

from common import learn_frame, load
from nasoa.meta.evaluate import summarize, task_metrics
from nasoa.meta.predictors import make_predictor

LOG = ("task_num_classes", "task_per_class_mean", "task_per_class_min")
TASK = ("task_brightness_spread", "task_colourfulness", "task_image_contrast", "task_image_size", "task_imbalance",
        "task_native_channels", "task_native_size", "task_num_classes", "task_num_train_log10",
        "task_per_class_mean", "task_per_class_min", "task_pixel_entropy", "task_pixel_mean", "task_pixel_std")

store, name, cfg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
full = load(store)
fam, g, y = full["family"].to_numpy(), full["group"].to_numpy(), full["y"].to_numpy()
members = sorted(full["model_name"].unique().to_list())
tasks = list(dict.fromkeys(g.tolist()))
tidx = {t: i for i, t in enumerate(tasks)}
rowtask = np.array([tidx[t] for t in g])
first = full.group_by("group", maintain_order=True).agg([pl.col(c).first() for c in TASK])
T = np.zeros((len(tasks), len(TASK)))
for row in first.iter_rows(named=True):
    T[tidx[row["group"]]] = [math.log10(max(float(row[c]), 1.0)) if c in LOG else float(row[c]) for c in TASK]
K = np.full((len(tasks), len(members)), np.nan)
for r in full.group_by("group", "model_name").agg(pl.col("knn").mean()).iter_rows(named=True):
    if r["knn"] is not None:
        K[tidx[r["group"]], members.index(r["model_name"])] = r["knn"]
tfam = np.array([fam[rowtask == i][0] for i in range(len(tasks))])
count = np.bincount(rowtask)
best = np.array([y[rowtask == i].max() for i in range(len(tasks))])
rel = y - best[rowtask]
chance = 1 / np.maximum(full["task_num_classes"].to_numpy(), 2)
failed = (y < chance + 0.15 * (1 - chance)).astype(float)
model = full["model_name"].cast(str).to_numpy()
KEYS = {"m": model,
        "mf": np.array([f"{m}|{int(f)}" for m, f in zip(model, full["frozen_stages"].to_list())]),
        "ml": np.array([f"{m}|{round(2 * v)}" for m, v in zip(model, full["lr_log10"].to_list())])}


def near_columns(train: np.ndarray) -> dict[str, np.ndarray]:
    """The near-prior of every row, from the training tasks ``train`` (a mask over tasks)."""
    X = T.copy()
    if cfg.get("knnvec", True):
        X = np.hstack([X, 3 * np.where(np.isnan(K), np.nanmean(K, 0), K)])
    Z = (X - X[train].mean(0)) / (X[train].std(0) + 1e-9)
    D = np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1))
    usable = train & (count >= 3)
    pseudo, k = float(cfg.get("pseudo", 3.0)), int(cfg.get("k", 15))
    out = {}
    for key in cfg.get("keys", ["m"]):
        cells, ci = np.unique(KEYS[key], return_inverse=True)
        S = np.zeros((len(tasks), len(cells), 3))
        np.add.at(S, (rowtask, ci, 0), rel)
        np.add.at(S, (rowtask, ci, 1), failed)
        np.add.at(S, (rowtask, ci, 2), 1.0)
        mean_rel, mean_fail = rel[usable[rowtask]].mean(), failed[usable[rowtask]].mean()
        NR, NF = np.zeros((len(tasks), len(cells))), np.zeros((len(tasks), len(cells)))
        for ti in range(len(tasks)):
            cand = usable.copy()
            cand[ti] = False
            if cfg.get("leave_family", True):
                cand &= tfam != tfam[ti]
            idx = np.where(cand)[0]
            near = S[idx[np.argsort(D[ti, idx])[:k]]].sum(0)
            wide = S[cand].sum(0)
            cr = (wide[:, 0] + pseudo * mean_rel) / (wide[:, 2] + pseudo)
            cf = (wide[:, 1] + pseudo * mean_fail) / (wide[:, 2] + pseudo)
            NR[ti] = (near[:, 0] + pseudo * cr) / (near[:, 2] + pseudo)
            NF[ti] = (near[:, 1] + pseudo * cf) / (near[:, 2] + pseudo)
        out[f"near_rel_{key}"], out[f"near_fail_{key}"] = NR[rowtask, ci], NF[rowtask, ci]
    return out


base = learn_frame(full)
families = list(dict.fromkeys(fam.tolist()))
columns = {f: near_columns(tfam != f) for f in families}
P, res, t0 = [], [], time.time()
for seed in (0, 1, 2):
    pred = np.zeros(len(y))
    for f in families:
        fr = base.with_columns([pl.Series(c, v) for c, v in columns[f].items()])
        m = fam == f
        p = make_predictor("lgbm-regressor", seed)
        p.learn_many(fr.filter(pl.Series(~m)))
        pred[m] = p.predict_many(fr.filter(pl.Series(m)))
    P.append(pred)
    s = summarize(task_metrics(pred, base))
    res.append((s["spearman_median"], 100 * s["regret"]))
a, ens = np.array(res), summarize(task_metrics(np.mean(P, 0), base))
print(f"{name} {json.dumps(cfg)}: median Spearman {a[:, 0].round(3).tolist()}, regret {a[:, 1].round(2).tolist()} "
      f"points, mean {a[:, 1].mean():.2f}; seeds averaged: regret {100 * ens['regret']:.2f} ({time.time() - t0:.0f} s)")
