"""Ranking metrics of predictions within a task: Spearman correlation (scipy) and NDCG@k
(scikit-learn), with the conventions evaluation needs for tiny or flat tasks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl

__all__ = ["spearman", "within_task_spearman", "ndcg"]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (ties averaged); NaN below two values, 0 when either side is
    constant (no order to agree with)."""
    from scipy.stats import spearmanr  # lazy: scipy.stats (~1 s); loads on first use

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2:
        return float("nan")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def within_task_spearman(pred: np.ndarray, frame: pl.DataFrame) -> float:
    """Mean over tasks (column ``group``) of the Spearman correlation between predictions and ``y``."""
    y = frame["y"].to_numpy()
    g = frame["group"].to_numpy()
    vals = [spearman(pred[g == k], y[g == k]) for k in np.unique(g)]
    vals = [v for v in vals if not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def ndcg(pred: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """NDCG@k of the order ``pred`` gives, with gains ``y - min(y)`` (raw accuracies would make
    every NDCG look close to 1); tied predictions share their positions' discounts (scikit-learn's
    default). 1 for a task with nothing to order (one run, or equal accuracies)."""
    from sklearn.metrics import ndcg_score  # lazy: sklearn (~1 s); loads on first use

    gains = np.asarray(y, dtype=float) - float(np.min(y))
    if len(gains) < 2 or not (gains > 0).any():
        return 1.0
    return float(ndcg_score(gains[None, :], np.asarray(pred, dtype=float)[None, :], k=k))
