"""Ranking metrics of the meta-model's evaluation (nasoa.meta.metrics)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from nasoa.meta.metrics import ndcg, spearman, within_task_spearman


def test_spearman_ranks_with_ties_averaged_and_flat_or_tiny_conventions():
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    # ties averaged: ranks (0.5, 0.5, 2) against (0, 1, 2) -> Pearson of those ranks
    assert spearman(np.array([1.0, 1.0, 5.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(math.sqrt(3) / 2)
    assert spearman(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 3.0])) == 0.0  # no order to agree with
    assert math.isnan(spearman(np.array([1.0]), np.array([2.0])))


def test_within_task_spearman_is_the_mean_over_tasks():
    frame = pl.DataFrame({"y": [0.1, 0.2, 0.3, 0.3, 0.2, 0.1], "group": ["a"] * 3 + ["b"] * 3})
    pred = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])  # task a in order, task b reversed
    assert within_task_spearman(pred, frame) == pytest.approx(0.0)
    assert within_task_spearman(pred[:3], frame.head(3)) == pytest.approx(1.0)


def test_ndcg_uses_gains_above_the_task_minimum():
    y = np.array([0.5, 0.7, 0.9])  # gains 0, 0.2, 0.4
    assert ndcg(np.array([0.1, 0.2, 0.3]), y) == pytest.approx(1.0)
    # reversed: DCG = 0.4 / log2(4) + 0.2 / log2(3); ideal = 0.4 / log2(2) + 0.2 / log2(3)
    want = (0.4 / 2 + 0.2 / math.log2(3)) / (0.4 + 0.2 / math.log2(3))
    assert ndcg(np.array([0.3, 0.2, 0.1]), y) == pytest.approx(want)
    # k=1: the top pick has gain 0.2 of the best 0.4
    assert ndcg(np.array([0.1, 0.3, 0.2]), y, k=1) == pytest.approx(0.5)
    # a tie at the top shares the first two discounts: (0.4 + 0.2) / 2 * (1 + 1/log2(3)) over the ideal
    tied = (0.3 * (1 + 1 / math.log2(3))) / (0.4 + 0.2 / math.log2(3))
    assert ndcg(np.array([0.0, 0.5, 0.5]), y, k=2) == pytest.approx(tied)
    assert ndcg(np.array([0.3]), np.array([0.8])) == 1.0  # one run: nothing to order
    assert ndcg(np.array([0.3, 0.1]), np.array([0.8, 0.8])) == 1.0  # equal accuracies


def test_loading_the_meta_model_code_imports_no_heavy_library():
    """scipy.stats alone costs ~1 s; the meta-model's modules load their libraries when used."""
    import subprocess
    import sys

    code = ("import sys; import nasoa.meta.metamodel, nasoa.meta.evaluate, nasoa.meta.metrics, nasoa.meta.checks; "
            "print(sorted(m for m in ('scipy.stats', 'sklearn', 'lightgbm', 'river', 'polars', 'matplotlib', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
