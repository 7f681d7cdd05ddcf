"""How a fine-tuning regime did on other tasks: a cross-task prior the LightGBM back-end learns
from its training rows and adds to every row as two features.

A **cell** is a regime up to what transfers across tasks: the member, its frozen stages, the
learning rate to half a decade (``round(2 * log10 lr)``) and the optimizer. Over the tasks with at
least :data:`MIN_TASK_RUNS` runs (where a run's standing among its task's runs means something):

* ``cell_rel``: the mean of (a run's accuracy - its task's best run's accuracy) over the cell's
  runs, at most 0: how far below the best this regime usually lands;
* ``cell_fail``: the share of the cell's runs that failed (accuracy within 15% of the way from
  chance, ``1 / task_num_classes``, to 1: diverged or never left chance).

Each is shrunk toward its mean over all cells by :data:`PRIOR_RUNS` pseudo-runs, so a cell run
twice moves little. A training row's own task is left out of its features (leave-one-task-out
target encoding), so the booster learns how far such a prior carries to a task it has not seen,
not the row's own outcome; a row to predict gets the cell's prior over every training task.

Why: leaving whole task families out, the first-ranked regime's mean top-1 regret was dominated by
a few regimes that fail outright on a new family (an ImageNet member fully fine-tuned at lr 0.1 on
a small grey task) though they shine on others; the trees, splitting on task features, priced
that risk from the families they were fitted on. With these two features (monotone: up in
``cell_rel``, down in ``cell_fail``) the mean regret fell from 3.6 to 2.6 points and the median
within-task Spearman rose from 0.70 to 0.72 (8 seeds, 1,959 shipped runs;
``bench/results/meta-eval-20261202d/``). Written here, not taken from a library: it is the
predictor's own logic (category-encoders' leave-one-out encoder encodes one column, not a
regime's standing within its task).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RegimePrior", "PRIOR_FEATURES"]

PRIOR_FEATURES = ("cell_rel", "cell_fail")
CELL_COLUMNS = ("model_name", "frozen_stages", "lr_log10", "optimizer")
MIN_TASK_RUNS = 3
PRIOR_RUNS = 3.0
FAIL_FRACTION = 0.15  # of the way from chance to 1


def _cells(frame: pl.DataFrame) -> list[str]:
    """Each row's cell key."""
    names = frame["model_name"].cast(str).to_list()
    frozen = frame["frozen_stages"].to_list()
    lr = frame["lr_log10"].to_list()
    opt = frame["optimizer"].cast(str).to_list()
    out = []
    for n, f, l, o in zip(names, frozen, lr, opt):
        fk = int(round(float(f))) if f is not None and math.isfinite(float(f)) else -1
        lk = int(round(2.0 * float(l))) if l is not None and math.isfinite(float(l)) else 99
        out.append(f"{n}|{fk}|{lk}|{o}")
    return out


class RegimePrior:
    """The cells' sums per task (so that a task's own runs can be left out) and their totals."""

    def __init__(self, parts: dict[str, dict[str, list[float]]], mean_rel: float, mean_fail: float):
        self.parts = parts  # cell -> task -> [sum rel, sum fail, runs]
        self.mean_rel, self.mean_fail = float(mean_rel), float(mean_fail)
        self.totals = {c: np.sum(np.array(list(by_task.values())), axis=0).tolist() for c, by_task in parts.items()}

    @staticmethod
    def applies(frame: pl.DataFrame) -> bool:
        return all(c in frame.columns for c in CELL_COLUMNS)

    @classmethod
    def fit(cls, frame: pl.DataFrame) -> RegimePrior | None:
        """From training rows (features, ``y``, ``group``); None when the rows lack a regime's
        columns or no task has enough runs."""
        if not cls.applies(frame) or "y" not in frame.columns or "group" not in frame.columns:
            return None
        y = frame["y"].cast(float).to_numpy()
        g = np.asarray(frame["group"].cast(str).to_list())
        k = frame["task_num_classes"].cast(float).to_numpy() if "task_num_classes" in frame.columns \
            else np.full(len(y), np.nan)
        chance = np.where(np.isfinite(k) & (k >= 2), 1.0 / np.where(k >= 2, k, 2.0), 0.0)
        fail = (y < chance + FAIL_FRACTION * (1.0 - chance)).astype(float)
        best: dict[str, float] = {}
        count: dict[str, int] = defaultdict(int)
        for gi, yi in zip(g, y):
            best[gi] = max(best.get(gi, -math.inf), yi)
            count[gi] += 1
        parts: dict[str, dict[str, list[float]]] = defaultdict(dict)
        rels, fails = [], []
        for cell, gi, yi, fi in zip(_cells(frame), g, y, fail):
            if count[gi] < MIN_TASK_RUNS or not math.isfinite(yi):
                continue
            rel = yi - best[gi]
            acc = parts[cell].setdefault(gi, [0.0, 0.0, 0.0])
            acc[0] += rel
            acc[1] += fi
            acc[2] += 1.0
            rels.append(rel)
            fails.append(fi)
        if not rels:
            return None
        return cls(dict(parts), float(np.mean(rels)), float(np.mean(fails)))

    def add(self, frame: pl.DataFrame, *, leave_own_task_out: bool) -> pl.DataFrame:
        """``frame`` with the prior's features; with ``leave_own_task_out`` (training rows, which
        have ``group``) each row's own task is left out of its cell's sums."""
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        if frame.height == 0 or not self.applies(frame):
            return frame
        groups = frame["group"].cast(str).to_list() if leave_own_task_out and "group" in frame.columns \
            else [None] * frame.height
        rel, fail = np.empty(frame.height), np.empty(frame.height)
        for i, (cell, gi) in enumerate(zip(_cells(frame), groups)):
            s = list(self.totals.get(cell, (0.0, 0.0, 0.0)))
            own = self.parts.get(cell, {}).get(gi) if gi is not None else None
            if own is not None:
                s = [a - b for a, b in zip(s, own)]
            rel[i] = (s[0] + PRIOR_RUNS * self.mean_rel) / (s[2] + PRIOR_RUNS)
            fail[i] = (s[1] + PRIOR_RUNS * self.mean_fail) / (s[2] + PRIOR_RUNS)
        return frame.with_columns(pl.Series("cell_rel", rel), pl.Series("cell_fail", fail))

    def to_dict(self) -> dict[str, Any]:
        return {"parts": self.parts, "mean_rel": self.mean_rel, "mean_fail": self.mean_fail}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegimePrior:
        return cls({c: {g: [float(v) for v in s] for g, s in by.items()} for c, by in d["parts"].items()},
                   d["mean_rel"], d["mean_fail"])
