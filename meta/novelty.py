"""How unlike the experience is a task? The distance from its meta-features to the nearest task
the meta-model learned from, relative to how far experience tasks lie from each other.

The one-shot pick is only as good as the experience near the task. Each task is a vector of its
numeric meta-features (sizes and counts on a log scale) plus the best member's transferability
(k-NN accuracy and LogME), standardised over the experience. The score is the distance to the
nearest experience task divided by the 90th percentile of the experience tasks' own nearest-
neighbour distances (each left out in turn): above 1, the task lies farther from everything seen
than nine experience tasks in ten lie from their nearest neighbour. ``nasoa adapt`` probes its top
candidates on such tasks (see :mod:`nasoa.app.probe`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .features import TRANSFER_SCORES, task_columns

__all__ = ["task_vector", "novelty", "QUANTILE"]

QUANTILE = 0.9
_LOG = ("task_num_classes", "task_num_train", "task_num_val", "task_per_class_min", "task_per_class_mean",
        "task_imbalance", "task_native_size", "task_image_size")


def task_vector(features: Mapping[str, Any], keys: Sequence[str]) -> np.ndarray:
    """The task's features in ``keys`` order (NaN where missing): counts and sizes as log10."""
    cols = dict(task_columns(features))
    for key in TRANSFER_SCORES:
        vals = [float(v) for v in (features.get(key) or {}).values() if v is not None and math.isfinite(float(v))]
        cols[f"best_{key}"] = max(vals) if vals else float("nan")
    out = []
    for k in keys:
        v = cols.get(k, float("nan"))
        out.append(math.log10(max(v, 1e-9)) if k in _LOG and math.isfinite(v) else v)
    return np.asarray(out, dtype=np.float64)


def novelty(features: Mapping[str, Any], experience: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"score", "distance", "threshold", "tasks"}`` of a task's features against the features of
    the experience's tasks; ``score`` is None with fewer than 3 experience tasks."""
    keys = sorted(set(task_columns(features)) | {f"best_{k}" for k in TRANSFER_SCORES})
    if len(experience) < 3:
        return {"score": None, "distance": None, "threshold": None, "tasks": len(experience)}
    ex = np.stack([task_vector(f, keys) for f in experience])
    x = task_vector(features, keys)
    keep = np.isfinite(x) & (np.isfinite(ex).mean(axis=0) > 0.5)
    ex, x = ex[:, keep], x[keep]
    mu = np.nanmean(ex, axis=0)
    sd = np.nanstd(ex, axis=0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    z = np.where(np.isfinite(ex), (ex - mu) / sd, 0.0)  # a missing value counts as typical
    zx = (x - mu) / sd
    d = np.sqrt(((z - zx) ** 2).mean(axis=1))
    pair = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).mean(axis=2))
    np.fill_diagonal(pair, np.inf)
    ref = float(np.quantile(pair.min(axis=1), QUANTILE))
    nearest = float(d.min())
    return {"score": round(nearest / max(ref, 1e-9), 4), "distance": round(nearest, 4),
            "threshold": round(ref, 4), "tasks": len(experience)}
