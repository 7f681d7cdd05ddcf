"""Leave one family out, three booster seeds, one predictor setting:

    python lofo.py STORE NAME BACKEND '{"relative_weight": 3}'        # kwargs of make_predictor
    python lofo.py STORE drop_x lgbm-regressor '{"_drop": ["task_x"]}'  # without a feature

Prints median Spearman and mean top-1 regret (points) per seed, their mean, and the regret of the
seeds' averaged prediction ("ens"); saves the predictions to preds/NAME.npz (for risk.py)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from common import learn_frame, load
from nasoa.meta.evaluate import summarize, task_metrics
from nasoa.meta.predictors import make_predictor

store, name, backend, kw = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
seeds = [int(s) for s in (sys.argv[5] if len(sys.argv) > 5 else "0,1,2").split(",")]
full = load(store)
frame, fam = learn_frame(full), full["family"]
frame = frame.drop(kw.pop("_drop", []))
families = list(dict.fromkeys(fam.to_list()))
P, out, t0 = [], [], time.time()
for seed in seeds:
    pred = np.zeros(frame.height)
    for f in families:
        p = make_predictor(backend, seed, **kw)
        p.learn_many(frame.filter(fam != f))
        pred[(fam == f).to_numpy()] = p.predict_many(frame.filter(fam == f))
    P.append(pred)
    s = summarize(task_metrics(pred, frame))
    out.append((s["spearman_median"], 100 * s["regret"]))
Path(__file__).with_name("preds").mkdir(exist_ok=True)
np.savez(Path(__file__).with_name("preds") / f"{name}.npz", P=np.array(P))
a, ens = np.array(out), summarize(task_metrics(np.mean(P, 0), frame))
print(f"{name}: median Spearman {a[:, 0].round(3).tolist()}, regret {a[:, 1].round(2).tolist()} points, "
      f"mean {a[:, 1].mean():.2f}; seeds averaged: regret {100 * ens['regret']:.2f} ({time.time() - t0:.0f} s)", flush=True)
