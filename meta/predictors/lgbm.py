"""The LightGBM back-end: a regressor or a LambdaRank ranker grouped by task, warm-started on
recent rows and refit as the data grows; saved as LightGBM's text model plus its rows."""

from __future__ import annotations

import io
import json
import math
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from nasoa.core.errors import NasoaError

from ..features import MONOTONE_DECREASING, MONOTONE_FEATURES
from .base import Predictor
from .regime_prior import PRIOR_FEATURES, RegimePrior
from .schema import FeatureSchema, _clean, _frame, _targets

if TYPE_CHECKING:
    import polars as pl

__all__ = ["LGBMPredictor"]


class _Within(NamedTuple):
    """A bag member's within-task part: its booster, the scale that puts its scores on the accuracy
    scale, and the centre subtracted from them (a constant: order is unchanged)."""

    booster: Any
    scale: float
    centre: float


class LGBMPredictor(Predictor):
    """LightGBM regressor (``objective="regression"``) or LambdaRank ranker grouped by task.

    The ranker's scores are mapped to an accuracy-like scale by a least-squares line fitted on the
    training rows; only their order within a task is meaningful. Both are monotone:
    non-decreasing in :data:`nasoa.meta.features.MONOTONE_FEATURES`, non-increasing in
    :data:`nasoa.meta.features.MONOTONE_DECREASING`.

    Online, so that every row reaches the booster at a bounded cost:

    * ``learn_one`` buffers; every ``warm_every`` new rows the booster continues boosting
      ``warm_rounds`` trees (``init_model``) on the most recent ``warm_window`` rows (the new ones
      and those just before them, so that a few new rows do not make the trees overfit);
    * a full refit on every row is due once the rows have grown by ``refit_growth`` since the last
      one, or the warm updates have added ``max_warm_trees`` trees (it also picks up new
      categories). It runs at once while the rows number at most ``inline_refit_rows`` (None: any
      number); beyond that it is left for :meth:`refit` outside a user's budget (``refit_due``),
      and warm updates go on until they have added ``4 * max_warm_trees`` trees.

    The rows of the last full fit are kept as a polars table and saved as parquet, read back only
    when a warm update or a refit needs them: loading does not grow with them.

    The regressor adds a **within-task** part (``relative_weight`` > 0): a second, smaller booster
    fitted at each full fit on every task with at least three runs, whose target is a run's
    percentile rank among its task's runs (0 the worst, 1 the best). A task's accuracy level is
    what the main booster is for; which regime wins within a task is what the choice needs, and
    raw accuracies make the trees spend their splits on telling tasks apart. The prediction is
    ``main + scale * (relative - 0.5)`` with ``scale = relative_weight * sqrt(12) * s``, ``s`` the
    median within-task standard deviation of accuracy in the training rows (a uniform percentile's
    spread is ``1/sqrt(12)``: at weight 1 the relative part alone spans a typical task's spread).
    The accuracy scale is kept (a task of a single run, as a stream records, still teaches the main
    booster), and leaving whole task families out the within-task Spearman rose from 0.54 to 0.63
    at weight 0.5 (bench/results/meta-eval-20261201b/). The
    percentile booster is refitted with the main one, not warm-updated (one new run says nothing
    about ranks within its task).

    ``relative="lambdarank"`` (the default) makes that part a LambdaRank booster grouped by task
    (LightGBM's ranking objective, which weighs the top of each task's order most: the first-ranked
    regime is what a pick runs) instead of a regression on percentiles. Its scores have no unit, so
    they are scaled to the accuracy scale the same way: ``scale = relative_weight * s / r``, ``r``
    the median within-task standard deviation of its scores on the training rows, so that at weight
    1 the part's spread within a task is the typical spread of accuracy. Its grades' gains are linear
    (:attr:`RELATIVE_GAIN`); at a full fit a run's weight halves with every ``max(warm_window,
    rows)`` runs recorded after it, and the warm updates continue it on the recent window's tasks
    of three or more runs, so that when new runs reorder a task type's regimes the pick follows them
    before the next full refit (without both, a member that started to lose everywhere kept 3 of 8
    picks in the online test: tests/test_meta.py). Leaving families out on the 2,956 shipped runs
    of 290 tasks, three seeds (bench/results/meta-eval-20261202f/sweep.txt), the top-1 regret fell from 4.09
    points (percentiles, weight 0.5) to 3.20 at weight 2 (3.73, 3.36, 3.33 at 0.5, 1, 1.5), and from
    4.03 to 3.26 inside the river blend, the median Spearman 0.68-0.69 -> 0.70-0.71.
    ``relative="percentile"`` is the earlier part (and what models saved before it load as);
    ``relative_leaves`` and ``relative_rounds`` size that part only: the LambdaRank part grows with
    the main booster's leaves, rounds and learning rate (31 other settings of either part ranked no
    better on the ship: bench/results/meta-eval-20261203b/).

    **Bagging** (``bags``, default 5): each full fit trains ``bags`` main boosters and as many
    within-task parts, seeds ``seed`` to ``seed + bags - 1`` (their row and feature subsamples
    differ), warm updates continue each, and the prediction is their mean. One booster's pick
    among a task's near-tied regimes moves with its seed; the mean's does less. Leaving families
    out on the ship (bench/results/meta-eval-20261203c/), 15 single boosters at weight 4 averaged
    3.19 points of regret (sd 0.10) and bags of 5 of them 3.04 (three disjoint bags: 3.02, 3.08,
    3.01); at weight 2 bagging gained nothing (3.24 -> 3.26), which is why the default weight is
    4 (the within-task part's spread is four typical spreads of a task's accuracy). A full fit
    costs ``bags`` times as much (1.4 s on the 2,956 shipped runs, one thread).

    The within-task part ranks; it does not predict accuracy: added to the level it overshoots
    the first-ranked regime by 0.15-0.18 on average. :meth:`predict_accuracy_many` (what a user is
    shown, what the mean absolute error scores) is the level alone; :meth:`predict_many` (what a
    pick ranks by) is their sum.

    With ``regime_prior`` (the default) each full fit also learns a :class:`RegimePrior` from its
    rows, how each regime cell (member, frozen stages, learning rate, optimizer) did on other tasks,
    and both boosters see it as two more features (``cell_rel``, ``cell_fail``; a training row's
    own task left out), monotone like the transferability scores.

    A **pairwise part** (``pairwise_weight`` > 0, fitted only at the ``large`` capacity: on a few
    hundred rows it learns noise) is one more booster, fitted at each full fit and never
    warm-updated, on ordered pairs of runs of one task: whether run i beat run j (LightGBM's binary
    objective), each pair weighed by their accuracy gap, from both runs' features and the numeric
    ones' differences (the regime prior's two left out: with them it ranked worse). A row's
    pairwise score is its mean antisymmetrised margin, ``(p(i, j) - p(j, i)) / 2``, against the
    other rows of its decision (its ``group`` and ``budget_s`` where the frame has them; every row
    of a frame without them, as adapt's candidates of one task at one budget) among the first
    ``pairwise_top`` by the rest of the score; it reranks those, and the rows below them get the
    lowest of their scores, so they keep their order below them. It adds ``pairwise_weight`` times
    that to the within-task part. It is not monotone (the boosters above are): it compares the rows
    of one decision, not one regime at two budgets. Leaving one family out at a time on the 4,407
    shipped runs (bench/results/meta-eval-20261205c/), weight 0.2 took the top-1 regret per
    decision from 2.09 / 2.14 / 2.15 / 2.17 / 2.14 to 2.01 / 2.02 / 2.06 / 2.10 / 2.07 points at
    booster seeds 0-4 (alone it read 2.18-2.25, ../meta-eval-20261205b/). Its fit is the costly one
    (a full fit on the ship takes 29.6 s with it, 6.8 s without, one thread), so only the first fit
    and :meth:`refit` (outside a user's budget) fit it: a full refit inside a learn keeps it where its
    columns still mean the same (drops it where they do not) and marks a refit due.
    """

    kind = "lgbm"
    #: Gains of the within-task ranker's grades 0..20: linear (LightGBM's default, 2^grade - 1, makes
    #: a regime that is sometimes the best outrank one that is reliably close to it: risk-seeking).
    RELATIVE_GAIN: ClassVar[list[float]] = [float(i) for i in range(21)]
    #: The boosters' size and regularisation, by how many rows a full fit learns from
    #: (``capacity="auto"``: ``large`` from :attr:`LARGE_FROM_ROWS` rows on). ``large`` came from a
    #: TPE search (optuna, 68 trials) leaving out one at a time only four of the eight families of the
    #: 4,407 shipped runs (animal, MNIST, textures, fractals) and was judged on the other four, which
    #: the search never scored (bench/results/meta-eval-20261204e/): against ``small`` (the settings
    #: before) the regret per decision on those four fell from 2.08-2.09 to 1.81-1.89 points at three
    #: booster seeds, over all eight from 2.32-2.39 to 2.09-2.16. On a few hundred rows (a new store's
    #: first fits) boosters that large fit noise: ``small`` keeps them as they were.
    CAPACITY: ClassVar[dict[str, dict[str, Any]]] = {
        "small": {"n_rounds": 150, "learning_rate": 0.08, "num_leaves": 15, "min_leaf_rows": 20,
                  "feature_fraction": 0.9, "lambda_l2": 1.0, "max_bin": 63},
        "large": {"n_rounds": 360, "learning_rate": 0.12, "num_leaves": 31, "min_leaf_rows": 7,
                  "feature_fraction": 0.85, "lambda_l2": 0.15, "max_bin": 255},
    }
    LARGE_FROM_ROWS: ClassVar[int] = 1000
    #: The pairwise booster's settings (bench/results/meta-eval-20261205b/pairwise.py ``OBJ=binary
    #: KEY=task ROUNDS=3000 LEAVES=31``; 8,000 rounds or 63 leaves ranked worse).
    PAIRWISE: ClassVar[dict[str, Any]] = {"learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
                                          "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
                                          "lambda_l2": 1.0}
    #: At most this many runs of one task make its pairs (drawn with the seed): a task run hundreds
    #: of times would otherwise make a quadratic number of them.
    PAIR_RUNS: ClassVar[int] = 48

    def __init__(self, objective: str = "regression", seed: int = 0, *, n_rounds: int | None = None,
                 learning_rate: float | None = None, num_leaves: int | None = None, min_rows: int = 8,
                 refit_growth: float = 1.25,
                 warm_every: int | None = 5, warm_rounds: int = 10, warm_window: int = 200, max_warm_trees: int = 100,
                 inline_refit_rows: int | None = None, extra_params: Mapping[str, Any] | None = None,
                 relative_weight: float = 4.0, relative_leaves: int = 4, relative_rounds: int = 250,
                 relative: str = "lambdarank", regime_prior: bool = True, bags: int = 5, capacity: str = "auto",
                 pairwise_weight: float = 0.2, pairwise_rounds: int = 3000, pairwise_top: int = 32):
        super().__init__(seed)
        if objective not in ("regression", "lambdarank"):
            raise NasoaError(f"unknown LightGBM objective {objective!r}; use regression or lambdarank")
        self.objective = objective
        if capacity not in ("auto", *self.CAPACITY):
            raise NasoaError(f"unknown capacity {capacity!r}; use auto, small or large")
        self.capacity = capacity
        # None: the capacity's value (:attr:`CAPACITY`); a number overrides it.
        self._n_rounds = int(n_rounds) if n_rounds is not None else None
        self._learning_rate = float(learning_rate) if learning_rate is not None else None
        self._num_leaves = int(num_leaves) if num_leaves is not None else None
        self.min_rows, self.refit_growth = int(min_rows), float(refit_growth)
        self.warm_every, self.warm_rounds = (int(warm_every) if warm_every else None), int(warm_rounds)
        self.warm_window, self.max_warm_trees = int(warm_window), int(max_warm_trees)
        self.inline_refit_rows = int(inline_refit_rows) if inline_refit_rows is not None else None
        self.extra_params = dict(extra_params or {})
        if not 0.0 <= float(relative_weight) <= 4.0:
            raise NasoaError(f"relative_weight must lie in [0, 4], not {relative_weight}")
        if relative not in ("lambdarank", "percentile"):
            raise NasoaError(f"unknown within-task part {relative!r}; use lambdarank or percentile")
        self.relative_weight = float(relative_weight) if objective == "regression" else 0.0
        self.relative = relative
        self.relative_leaves, self.relative_rounds = int(relative_leaves), int(relative_rounds)
        self.regime_prior = bool(regime_prior)
        if not 1 <= int(bags) <= 32:
            raise NasoaError(f"bags must lie in [1, 32], not {bags}")
        self.bags = int(bags)
        if not 0.0 <= float(pairwise_weight) <= 4.0:
            raise NasoaError(f"pairwise_weight must lie in [0, 4], not {pairwise_weight}")
        if int(pairwise_top) < 2 or int(pairwise_rounds) < 1:
            raise NasoaError(f"pairwise_top must be at least 2 and pairwise_rounds at least 1, not {pairwise_top} "
                             f"and {pairwise_rounds}")
        self.pairwise_weight = float(pairwise_weight) if objective == "regression" else 0.0
        self.pairwise_rounds, self.pairwise_top = int(pairwise_rounds), int(pairwise_top)
        self._pairwise: Any = None  # the pairwise booster (None: no pairwise part)
        self._prior: RegimePrior | None = None
        # One entry each per bag member (seeds seed, seed + 1, ...): its main booster, its
        # within-task part (None without one).
        self._boosters: list[Any] = []
        self._within: list[_Within | None] = []
        # Rows of the last full fit (features, "y", "group"): a table, or its parquet bytes not yet read.
        self._table: pl.DataFrame | None = None
        self._table_blob: bytes | None = None
        self._n_fit = 0  # rows at the last full fit (the table's height)
        # Rows learned since the last full fit.
        self._rows: list[dict[str, Any]] = []
        self._y: list[float] = []
        self._g: list[str] = []
        self._schema: FeatureSchema | None = None
        self._pending = 0  # rows since the last full fit or warm update
        self._calib = (0.0, 1.0)
        self.n_fits = 0
        self.n_warm = 0  # warm updates since the last full fit
        self.warm_trees = 0  # trees they added
        self.refit_due = False
        self.fit_s: float | None = None  # seconds the last full fit took (information only)

    def describe(self) -> str:
        return "lgbm-ranker" if self.objective == "lambdarank" else "lgbm-regressor"

    @property
    def _fit_capacity(self) -> str:
        """The capacity of the last full fit (``auto``: by its rows); warm updates continue with it."""
        if self.capacity != "auto":
            return self.capacity
        return "large" if self._n_fit >= self.LARGE_FROM_ROWS else "small"

    def _setting(self, key: str) -> Any:
        return self.CAPACITY[self._fit_capacity][key]

    @property
    def n_rounds(self) -> int:
        return self._n_rounds if self._n_rounds is not None else int(self._setting("n_rounds"))

    @property
    def learning_rate(self) -> float:
        return self._learning_rate if self._learning_rate is not None else float(self._setting("learning_rate"))

    @property
    def num_leaves(self) -> int:
        return self._num_leaves if self._num_leaves is not None else int(self._setting("num_leaves"))

    def params(self) -> dict[str, Any]:
        return {"objective": self.objective, "seed": self.seed, "n_rounds": self._n_rounds,
                "learning_rate": self._learning_rate, "num_leaves": self._num_leaves, "min_rows": self.min_rows,
                "refit_growth": self.refit_growth, "warm_every": self.warm_every, "warm_rounds": self.warm_rounds,
                "warm_window": self.warm_window, "max_warm_trees": self.max_warm_trees,
                "inline_refit_rows": self.inline_refit_rows, "extra_params": self.extra_params,
                "relative_weight": self.relative_weight, "relative": self.relative,
                "relative_leaves": self.relative_leaves, "relative_rounds": self.relative_rounds,
                "regime_prior": self.regime_prior, "bags": self.bags, "capacity": self.capacity,
                "pairwise_weight": self.pairwise_weight, "pairwise_rounds": self.pairwise_rounds,
                "pairwise_top": self.pairwise_top}

    @property
    def n_rows(self) -> int:
        return self._n_fit + len(self._rows)

    @property
    def fitted(self) -> bool:
        """Whether a booster has been fitted (before, predictions are the running mean)."""
        return bool(self._boosters)

    def state(self) -> dict[str, Any]:
        """What the booster has learned and when it refits (for ``nasoa meta show``)."""
        return {"rows": self.n_rows, "rows_at_last_refit": self._n_fit, "full_fits": self.n_fits,
                "bags": self.bags, "capacity": self._fit_capacity,
                "trees": sum(b.num_trees() for b in self._boosters),
                "relative_trees": sum(w.booster.num_trees() for w in self._within if w is not None),
                "pairwise_trees": self._pairwise.num_trees() if self._pairwise is not None else 0,
                "warm_updates_since_refit": self.n_warm, "warm_trees": self.warm_trees,
                "rows_pending": self._pending, "refit_due": self.refit_due,
                "last_fit_s": round(self.fit_s, 4) if self.fit_s is not None else None}

    def _binning(self) -> dict[str, Any]:
        """A dataset's binning parameters (the capacity's bins per feature)."""
        return {"max_bin": self._setting("max_bin"), "min_data_in_bin": 1, "verbosity": -1}

    def _lgb_params(self, n: int, schema: FeatureSchema, member: int = 0) -> dict[str, Any]:
        p: dict[str, Any] = {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": max(2, min(self._setting("min_leaf_rows"), n // 40)),
            "min_sum_hessian_in_leaf": 1e-6,
            "feature_fraction": self._setting("feature_fraction"),
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "lambda_l2": self._setting("lambda_l2"),
            "cat_smooth": 5.0,
            "min_data_per_group": 3,
            "max_cat_to_onehot": 8,
            "max_bin": self._setting("max_bin"),
            "min_data_in_bin": 1,
            "monotone_constraints": [1 if c in MONOTONE_FEATURES else -1 if c in MONOTONE_DECREASING else 0
                                     for c in schema.names],
            "monotone_constraints_method": "intermediate",
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "seed": self.seed + member,
            "verbosity": -1,
        }
        if self.objective == "lambdarank":
            p["lambdarank_truncation_level"] = 30
            p["eval_at"] = [1, 3]
        p.update(self.extra_params)
        return p

    @staticmethod
    def _percentiles(y: np.ndarray, g: np.ndarray, min_runs: int = 3) -> np.ndarray:
        """Each run's percentile rank within its task (average ranks for ties; 0 worst, 1 best);
        NaN for tasks with fewer than ``min_runs`` runs."""
        from scipy.stats import rankdata  # lazy: scipy.stats (~1 s); loads on first use

        out = np.full(len(y), np.nan)
        for key in np.unique(g):
            m = g == key
            if m.sum() >= min_runs:
                out[m] = (rankdata(y[m]) - 1.0) / (m.sum() - 1.0)
        return out

    @staticmethod
    def _in_ranked_tasks(g: np.ndarray, min_runs: int = 3) -> np.ndarray:
        """Which rows belong to a task of at least ``min_runs`` runs: where an order within the
        task means something (what the within-task part learns from)."""
        _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
        return counts[inverse] >= min_runs

    def _fit_relative(self, x: np.ndarray, ya: np.ndarray, frame: pl.DataFrame, schema: FeatureSchema,
                      member: int = 0) -> _Within | None:
        """Bag member ``member``'s within-task part (None: none to fit)."""
        import lightgbm as lgb  # lazy: lightgbm; loads when a model is fitted or read

        if self.relative_weight <= 0:
            return None
        ga = np.asarray(frame["group"].cast(str).to_list())
        keep = self._in_ranked_tasks(ga)
        if keep.sum() < self.min_rows:
            return None
        spread = float(np.median([ya[ga == k].std(ddof=1) for k in np.unique(ga[keep])]))
        if self.relative == "lambdarank":
            # Recent runs weigh more (half as much a window or the whole table ago, whichever is
            # longer): when new runs reorder regimes, the order follows them.
            age = (len(ya) - 1 - np.arange(len(ya)))[keep]
            ds, params, xk, gk = self._rank_data(x[keep], ya[keep], ga[keep], schema,
                                                 0.5 ** (age / max(self.warm_window, len(ya))), member)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                booster = lgb.train(params, ds, num_boost_round=self.n_rounds, keep_training_booster=True)
            scores = booster.predict(xk, num_threads=1)
            r = float(np.median([scores[gk == k].std(ddof=1) for k in np.unique(gk)]))
            if not r > 0:  # a ranker that learned nothing (every task a tie): no within-task part
                return None
            return _Within(booster, self.relative_weight * spread / r, float(scores.mean()))
        scale = self.relative_weight * math.sqrt(12.0) * spread
        target = self._percentiles(ya, ga)
        params = {**self._lgb_params(int(keep.sum()), schema, member), "objective": "regression",
                  "num_leaves": self.relative_leaves}
        ds = lgb.Dataset(x[keep], target[keep], feature_name=schema.names, categorical_feature=list(schema.categorical),
                         free_raw_data=True, params=self._binning())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _Within(lgb.train(params, ds, num_boost_round=self.relative_rounds), scale, 0.5)

    # -- the pairwise part -------------------------------------------------------------------------
    def _pair_columns(self, schema: FeatureSchema) -> tuple[np.ndarray, int]:
        """The feature columns the pairwise booster sees (the schema's, less the regime prior's), the
        numeric first, and how many of them are numeric (their differences join the pair's row)."""
        numeric = [k for k, n in enumerate(schema.numeric) if n not in PRIOR_FEATURES]
        cats = [len(schema.numeric) + k for k in range(len(schema.categorical))]
        return np.array(numeric + cats, dtype=np.int64), len(numeric)

    def _pair_matrix(self, x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Pairs (i, j) of rows of ``x``: run i's features, run j's, and their numeric differences."""
        assert self._schema is not None
        cols, nn = self._pair_columns(self._schema)
        a, b = x[i][:, cols], x[j][:, cols]
        return np.column_stack([a, b, a[:, :nn] - b[:, :nn]])

    def _pair_names(self, schema: FeatureSchema) -> tuple[list[str], list[str]]:
        cols, nn = self._pair_columns(schema)
        names = [schema.names[k] for k in cols]
        cats = [f"{side}_{n}" for side in "ab" for n in names[nn:]]
        return [f"{side}_{n}" for side in "ab" for n in names] + [f"d_{n}" for n in names[:nn]], cats

    def _fit_pairwise(self, x: np.ndarray, ya: np.ndarray, ga: np.ndarray) -> Any:
        """The pairwise booster, fitted on every ordered pair of runs of one task whose accuracies
        differ (None: no pairwise part, or under 200 such pairs)."""
        import lightgbm as lgb  # lazy: lightgbm; loads when a model is fitted or read

        if self.pairwise_weight <= 0 or self._fit_capacity != "large" or self._schema is None:
            return None
        rng = np.random.default_rng(self.seed)
        order, sizes = self._task_blocks(ga)
        left, right = [], []
        for block in np.split(order, np.cumsum(sizes)[:-1]):
            if len(block) > self.PAIR_RUNS:
                block = np.sort(rng.choice(block, self.PAIR_RUNS, replace=False))
            a, b = np.meshgrid(block, block, indexing="ij")
            m = ya[a] != ya[b]
            left.append(a[m])
            right.append(b[m])
        i, j = np.concatenate(left), np.concatenate(right)
        if len(i) < 200:
            return None
        gap = ya[i] - ya[j]
        names, cats = self._pair_names(self._schema)
        ds = lgb.Dataset(self._pair_matrix(x, i, j), (gap > 0).astype(np.float64), weight=np.abs(gap),
                         feature_name=names, categorical_feature=cats, free_raw_data=True,
                         params={"verbosity": -1})
        params = {**self.PAIRWISE, "objective": "binary", "seed": self.seed, "deterministic": True,
                  "num_threads": 1, "verbosity": -1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lgb.train(params, ds, num_boost_round=self.pairwise_rounds)

    def _pairwise_scores(self, x: np.ndarray, base: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Each row's pairwise score (see the class doc): its mean antisymmetrised margin against the
        other rows of its group among the first ``pairwise_top`` by ``base``; the rows below those get
        their lowest score. One booster call for every group."""
        out = np.zeros(len(base))
        tops, left, right = [], [], []
        order, sizes = self._task_blocks(groups)
        for block in np.split(order, np.cumsum(sizes)[:-1]):
            if len(block) < 2:
                continue
            top = block[np.argsort(-base[block], kind="stable")[: self.pairwise_top]]
            a, b = np.meshgrid(top, top, indexing="ij")
            m = a != b
            tops.append((block, top, m))
            left.append(a[m])
            right.append(b[m])
        if not tops:
            return out
        margin = self._pairwise.predict(self._pair_matrix(x, np.concatenate(left), np.concatenate(right)),
                                        num_threads=1) - 0.5
        at = 0
        for block, top, m in tops:
            k = int(m.sum())
            mat = np.zeros(m.shape)
            mat[m] = margin[at: at + k]
            at += k
            score = ((mat - mat.T) / 2).sum(1) / (len(top) - 1)
            out[block] = score.min()
            out[top] = score
        return out

    @staticmethod
    def _decisions(frame: pl.DataFrame) -> np.ndarray:
        """Which rows a pick compares: those of one ``group`` (a task) at one ``budget_s``, where the
        frame has those columns (an evaluation's runs); else every row (adapt's candidates: one task,
        one budget)."""
        keys = [c for c in ("group", "budget_s") if c in frame.columns]
        if not keys:
            return np.zeros(frame.height, dtype=np.int64)
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        key = frame.select(pl.concat_str([pl.col(k).cast(pl.Utf8) for k in keys], separator="|",
                                         ignore_nulls=True))
        return np.unique(key.to_series().to_numpy().astype(str), return_inverse=True)[1]

    def _rank_data(self, x: np.ndarray, y: np.ndarray, g: np.ndarray, schema: FeatureSchema,
                   weight: np.ndarray | None = None, member: int = 0):
        """The within-task ranker's dataset and parameters over rows of tasks with >= 3 runs:
        (dataset, params, rows in block order, their tasks)."""
        import lightgbm as lgb  # lazy: lightgbm; loads when a model is fitted or read

        order, sizes = self._task_blocks(g)
        xk, yk, gk = x[order], y[order], g[order]
        params = {**self._lgb_params(len(yk), schema, member), "objective": "lambdarank",
                  "lambdarank_truncation_level": 30, "label_gain": self.RELATIVE_GAIN}
        ds = lgb.Dataset(xk, self._grades(yk, gk), group=sizes, weight=None if weight is None else weight[order],
                         feature_name=schema.names,
                         categorical_feature=list(schema.categorical), free_raw_data=True,
                         params=self._binning())
        return ds, params, xk, gk

    @staticmethod
    def _task_blocks(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A stable order putting each task's rows together (in order of first appearance) and the
        block sizes: what LightGBM's ranking objectives take as ``group``."""
        first: dict[str, int] = {}
        for i, key in enumerate(g):
            first.setdefault(key, i)
        rank = np.array([first[k] for k in g])
        order = np.argsort(rank, kind="stable")
        _, counts = np.unique(rank[order], return_counts=True)  # sorted by first appearance = block order
        return order, counts

    @staticmethod
    def _grades(y: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Accuracies -> integer relevance 0..20 within each task (LambdaRank labels)."""
        out = np.zeros(len(y), dtype=np.int32)
        for key in np.unique(g):
            m = g == key
            lo, hi = y[m].min(), y[m].max()
            out[m] = np.round(20 * (y[m] - lo) / (hi - lo)).astype(np.int32) if hi > lo else 0
        return out

    def _dataset(self, frame: pl.DataFrame, schema: FeatureSchema):
        """A LightGBM dataset of a frame holding features, ``y`` and ``group``."""
        import lightgbm as lgb  # lazy: lightgbm; loads when a model is fitted or read

        x = schema.matrix(frame)
        ya = frame["y"].cast(float).to_numpy().astype(np.float64)
        kw: dict[str, Any] = {"feature_name": schema.names, "categorical_feature": list(schema.categorical),
                              "free_raw_data": True, "params": self._binning()}
        if self.objective == "lambdarank":
            ga = np.asarray(frame["group"].cast(str).to_list())
            order, sizes = self._task_blocks(ga)
            x, ya, ga = x[order], ya[order], ga[order]
            return lgb.Dataset(x, self._grades(ya, ga), group=sizes, **kw), x, ya
        return lgb.Dataset(x, ya, **kw), x, ya

    # -- rows --------------------------------------------------------------------------------------
    def _stored(self) -> pl.DataFrame | None:
        """The rows of the last full fit (read from their parquet bytes on first use)."""
        if self._table is None and self._table_blob is not None:
            import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

            self._table = pl.read_parquet(io.BytesIO(self._table_blob))
        return self._table

    def _recent_frame(self, k: int | None = None) -> pl.DataFrame | None:
        """The last ``k`` rows (every row when None) as one frame with ``y`` and ``group``."""
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        k = self.n_rows if k is None else min(k, self.n_rows)
        new = self._rows[len(self._rows) - min(k, len(self._rows)):]
        parts = []
        if k > len(new):
            old = self._stored()
            assert old is not None
            parts.append(old if k - len(new) >= old.height else old.tail(k - len(new)))
        if new:
            ys, gs = self._y[len(self._y) - len(new):], self._g[len(self._g) - len(new):]
            parts.append(_frame([{**x, "y": y, "group": g} for x, y, g in zip(new, ys, gs)]))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")

    # -- fitting -----------------------------------------------------------------------------------
    def _with_prior(self, frame: pl.DataFrame, training: bool) -> pl.DataFrame:
        """``frame`` with the regime prior's features (a training row's own task left out)."""
        return self._prior.add(frame, leave_own_task_out=training) if self._prior is not None else frame

    def _pair_signature(self, schema: FeatureSchema | None) -> Any:
        """What the pairwise booster's columns mean: their names and the categorical levels' codes."""
        if schema is None:
            return None
        cols, _ = self._pair_columns(schema)
        return [schema.names[k] for k in cols], schema.categorical

    def _fit_full(self, pairwise: bool = True) -> None:
        """A full fit on every row. ``pairwise=False`` (a refit inside a learn, which a user's budget
        may be waiting on) leaves the costly pairwise booster as it is where its columns still mean
        the same, drops it where they do not, and marks a full refit due (:meth:`refit`)."""
        import lightgbm as lgb  # lazy: lightgbm; loads when a model is fitted or read

        t = time.perf_counter()
        old_pairwise, old_signature = self._pairwise, self._pair_signature(self._schema)
        raw = self._recent_frame()
        assert raw is not None
        self._prior = RegimePrior.fit(raw) if self.regime_prior else None
        frame = self._with_prior(raw, True)
        schema = FeatureSchema.fit(frame)
        self._table, self._table_blob, self._n_fit = raw, None, raw.height
        self._rows, self._y, self._g = [], [], []
        self._pending, self.n_warm, self.warm_trees, self.refit_due = 0, 0, 0, False
        self._boosters, self._within, self._pairwise = [], [], None
        if not schema.names:
            self._schema = None
            return
        for i in range(self.bags):
            ds, x, ya = self._dataset(frame, schema)  # one per member: a booster's training binds its dataset
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._boosters.append(lgb.train(self._lgb_params(len(ya), schema, i), ds, num_boost_round=self.n_rounds,
                                                keep_training_booster=True))
            self._within.append(self._fit_relative(x, ya, frame, schema, i) if self.objective == "regression" else None)
        self._schema = schema
        owed = self.objective == "regression" and self.pairwise_weight > 0 and self._fit_capacity == "large"
        if owed and pairwise:
            # x, ya: the regressor's rows in frame order (only the ranker's dataset reorders them)
            self._pairwise = self._fit_pairwise(x, ya, np.asarray(frame["group"].cast(str).to_list()))
        elif owed:
            self._pairwise = old_pairwise if old_signature == self._pair_signature(schema) else None
            self.refit_due = True
        self.n_fits += 1
        if self.objective == "lambdarank":
            s = self._main_scores(x)
            if np.ptp(s) > 0:
                b, a = np.polyfit(s, ya, 1)
                self._calib = (float(a), float(max(b, 1e-6)))
            else:
                self._calib = (float(ya.mean()), 0.0)
        self.fit_s = time.perf_counter() - t

    def _warm(self) -> None:
        import lightgbm as lgb  # lazy: lightgbm; loads when a model is fitted or read

        assert self._schema is not None
        frame = self._recent_frame(max(self.warm_window, self._pending))
        assert frame is not None
        framed = self._with_prior(frame, True)
        ga = np.asarray(framed["group"].cast(str).to_list())
        keep = self._in_ranked_tasks(ga)
        for i in range(len(self._boosters)):
            ds, x, ya = self._dataset(framed, self._schema)  # one per member: init_model binds it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._boosters[i] = lgb.train(self._lgb_params(len(ya), self._schema, i), ds,
                                              num_boost_round=self.warm_rounds, init_model=self._boosters[i],
                                              keep_training_booster=True)
                w = self._within[i]
                if (self.relative == "lambdarank" and w is not None
                        and self.objective == "regression" and keep.sum() >= self.min_rows):
                    # The within-task ranker follows the recent runs too (their tasks of >= 3 runs):
                    # a pick must move when new runs reorder regimes, not only at the next full refit.
                    rds, rparams, _, _ = self._rank_data(x[keep], ya[keep], ga[keep], self._schema, member=i)
                    self._within[i] = w._replace(booster=lgb.train(rparams, rds, num_boost_round=self.warm_rounds,
                                                                   init_model=w.booster, keep_training_booster=True))
        self._pending = 0
        self.n_warm += 1
        self.warm_trees += self.warm_rounds

    def _update(self) -> None:
        n = self.n_rows
        if n < self.min_rows:
            return
        if not self._boosters:
            self._fit_full()
            return
        if n >= self.refit_growth * self._n_fit or self.warm_trees >= self.max_warm_trees:
            if self.inline_refit_rows is None or n <= self.inline_refit_rows:
                self._fit_full(pairwise=False)  # inside a learn: the pairwise part waits for refit()
                return
            self.refit_due = True  # left for refit() outside the budget; warm updates go on meanwhile
        if self.warm_every and self._pending >= self.warm_every and self.warm_trees < 4 * self.max_warm_trees:
            self._warm()

    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        self._rows.append(_clean(x))
        self._y.append(float(y))
        self._g.append(str(group if group is not None else x.get("task_id", "_")))
        self._seen(y)
        self._pending += 1
        self._update()

    def learn_many(self, frame: pl.DataFrame) -> None:
        rows, y, g = _targets(frame)
        if not rows:
            return
        self._rows += rows
        self._y += y
        self._g += g
        for v in y:
            self._seen(v)
        self._pending += len(rows)
        self._update()

    def refit(self) -> None:
        """A full refit on every row learned so far."""
        if self.n_rows >= self.min_rows:
            self._fit_full()

    def predict_parts(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(accuracy level, within-task part): the main booster's prediction and what the
        within-task and pairwise parts add to it (zeros without them); :meth:`predict_many` is their
        sum. The pairwise part compares the rows of one decision (:meth:`_decisions`): a row's score
        depends on the rows beside it."""
        if frame.height == 0:
            return np.zeros(0), np.zeros(0)
        if not self._boosters or self._schema is None:
            return np.full(frame.height, self.prior), np.zeros(frame.height)
        x = self._schema.matrix(self._with_prior(frame, False))
        s = self._main_scores(x)
        a, b = self._calib
        if self.objective == "lambdarank":
            return a + b * s, np.zeros(frame.height)
        within = np.zeros(frame.height)
        for w in self._within:
            if w is not None and w.scale > 0:
                within += w.scale * (w.booster.predict(x, num_threads=1) - w.centre)
        within /= len(self._boosters)
        if self._pairwise is not None and frame.height > 1:
            groups = self._decisions(frame)
            within += self.pairwise_weight * self._pairwise_scores(x, s + within, groups)
        return s, within

    def _main_scores(self, x: np.ndarray) -> np.ndarray:
        """The main boosters' mean score on a feature matrix."""
        return np.mean([b.predict(x, num_threads=1) for b in self._boosters], axis=0)

    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        level, within = self.predict_parts(frame)
        return level + within

    def predict_accuracy_many(self, frame: pl.DataFrame) -> np.ndarray:
        """The accuracy level alone: the within-task part spreads a task's regimes by
        ``relative_weight`` typical spreads, so added to the level it overshoots the first-ranked
        regime's accuracy (by 0.15 on average at weight 2, families out; the level: +0.01,
        bench/results/meta-eval-20261203c/)."""
        return self.predict_parts(frame)[0]

    def feature_importances(self) -> dict[str, float] | None:
        if not self._boosters or self._schema is None:
            return None
        gain = np.sum([b.feature_importance(importance_type="gain") for b in self._boosters], axis=0)
        total = float(gain.sum()) or 1.0
        return dict(sorted(((n, float(v) / total) for n, v in zip(self._schema.names, gain)), key=lambda t: -t[1]))

    # -- saving --------------------------------------------------------------------------------------
    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        files = {"recent.json": json.dumps({"x": self._rows, "y": self._y, "group": self._g}).encode()}
        if self._n_fit:
            if self._table_blob is None:  # written once per full fit, then the same bytes
                buf = io.BytesIO()
                self._stored().write_parquet(buf, statistics=False)
                self._table_blob = buf.getvalue()
            files["table.parquet"] = self._table_blob
        # Bag member 0 keeps the single booster's file names (models of one member read as before).
        for i, (booster, w) in enumerate(zip(self._boosters, self._within)):
            suffix = f"-{i}" if i else ""
            files[f"booster{suffix}.txt"] = booster.model_to_string().encode()
            if w is not None:
                files[f"relative{suffix}.txt"] = w.booster.model_to_string().encode()
        if self._pairwise is not None:
            files["pairwise.txt"] = self._pairwise.model_to_string().encode()
        if self._prior is not None:
            files["regime_prior.json"] = json.dumps(self._prior.to_dict()).encode()
        state = {"n_fit": self._n_fit, "pending": self._pending, "calib": list(self._calib), "n_fits": self.n_fits,
                 "relative_scales": [w.scale if w is not None else 0.0 for w in self._within],
                 "relative_centers": [w.centre if w is not None else 0.5 for w in self._within],
                 "n_warm": self.n_warm, "warm_trees": self.warm_trees, "refit_due": self.refit_due,
                 "fit_s": self.fit_s, "y_sum": self._y_sum, "y_n": self._y_n,
                 "schema": self._schema.to_dict() if self._schema is not None else None}
        return files, state

    @classmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> LGBMPredictor:
        import lightgbm as lgb  # lazy: lightgbm; loads when a model is fitted or read

        # Saved before the LambdaRank within-task part existed: theirs is the percentile one; before
        # capacities: the small one (their boosters' settings).
        # Before the pairwise part: none (its weight 0, whatever the default is now).
        p = cls(**{"relative": "percentile", "capacity": "small", "pairwise_weight": 0.0, **manifest["params"]})
        st = manifest["state"]
        p._n_fit, p._pending, p.n_fits = int(st["n_fit"]), int(st["pending"]), int(st["n_fits"])
        p.n_warm, p.warm_trees = int(st.get("n_warm", 0)), int(st.get("warm_trees", 0))
        p.refit_due, p.fit_s = bool(st.get("refit_due", False)), st.get("fit_s")
        if "rows.json" in files:  # format 1: every row as JSON; those of the last full fit become the table
            rows = json.loads(files["rows.json"])
            x, y, g = rows["x"], [float(v) for v in rows["y"]], [str(v) for v in rows["group"]]
            k = p._n_fit
            if k:
                p._table = _frame([{**r, "y": yi, "group": gi} for r, yi, gi in zip(x[:k], y[:k], g[:k])])
            p._rows, p._y, p._g = x[k:], y[k:], g[k:]
        else:
            recent = json.loads(files["recent.json"])
            p._rows, p._y, p._g = recent["x"], [float(v) for v in recent["y"]], [str(v) for v in recent["group"]]
            p._table_blob = files.get("table.parquet")
        p._calib = (float(st["calib"][0]), float(st["calib"][1]))
        p._y_sum, p._y_n = float(st["y_sum"]), int(st["y_n"])
        if "booster.txt" in files and st.get("schema"):
            p._schema = FeatureSchema.from_dict(st["schema"])
            # Saved before bagging: one member, its scale and centre as scalars.
            scales = st.get("relative_scales", [st.get("relative_scale", 0.0)])
            centres = st.get("relative_centers", [st.get("relative_center", 0.5)])
            for i in range(len(files)):  # members 0, 1, ... while their booster file is there
                suffix = f"-{i}" if i else ""
                main = files.get(f"booster{suffix}.txt")
                if main is None:
                    break
                p._boosters.append(lgb.Booster(model_str=main.decode()))
                rel = files.get(f"relative{suffix}.txt")
                p._within.append(None if rel is None else _Within(lgb.Booster(model_str=rel.decode()),
                                                                  float(scales[i]), float(centres[i])))
        if "pairwise.txt" in files:
            p._pairwise = lgb.Booster(model_str=files["pairwise.txt"].decode())
        if "regime_prior.json" in files:
            p._prior = RegimePrior.from_dict(json.loads(files["regime_prior.json"]))
        return p
