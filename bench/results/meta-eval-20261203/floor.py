"""How much top-1 regret luck alone leaves: a predictor that knew every run's expected accuracy
(taken as the accuracy each run reached) and picked the best, scored on a fresh draw of every
run's outcome: binomial validation noise (what `nasoa meta eval` reports as luck's floor; n_val
the task's validation images), and that plus a Gaussian training noise of 2 points. Spreading the
expected accuracies as far as the observed ones makes this a lower bound. (A Gaussian at
../noise-20261202/'s sds, 2.6 points at lr < 0.03 and 6.3 above, gave 4.1 points, above what the
meta-model pays: much of that spread is the bimodal divergence of a few high-lr regimes, not a
Gaussian, so that variant is left out.)

    python floor.py STORE
"""

from __future__ import annotations

import sys

import numpy as np
import polars as pl

from common import load

full = load(sys.argv[1])
rng = np.random.default_rng(0)
floors: dict[str, list[float]] = {"validation (binomial) only": [], "+ 2-point training noise": []}
for _, x in full.group_by("group", maintain_order=True):
    y, nv = x["y"].to_numpy(), float(x["task_num_val"][0])
    if len(y) < 2:
        continue
    top = int(np.argmax(y))
    draws = {"validation (binomial) only": rng.binomial(int(nv), np.clip(y, 0, 1), size=(4000, len(y))) / nv}
    val = np.sqrt(np.clip(y * (1 - y), 0.0099, None) / nv)
    draws["+ 2-point training noise"] = y + np.sqrt(val ** 2 + 0.02 ** 2) * rng.normal(size=(4000, len(y)))
    for key, z in draws.items():
        floors[key].append(float((z.max(1) - z[:, top]).mean()))
for key, v in floors.items():
    print(f"luck's floor, {key}: mean regret {100 * np.mean(v):.2f} points (median {100 * np.median(v):.2f}) over {len(v)} tasks")
