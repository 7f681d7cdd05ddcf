"""One check suite for every predictor back-end (after ``river.checks``).

``yield_checks(factory)`` yields check functions; each takes ``factory(seed) -> Predictor`` and
raises ``AssertionError`` on failure. The tests run every check on every back-end in
:data:`nasoa.meta.predictors.BACKENDS`; a new back-end passes them before it ships.

The data is a known synthetic function shaped like real experience: accuracy rises with the
budget and the member's quality, peaks at a task- and optimizer-dependent learning rate, and
frozen stages help small tasks but hurt large ones.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from .metrics import within_task_spearman
from .predictors import Predictor, load_predictor

if TYPE_CHECKING:
    import polars as pl

__all__ = ["synthetic_frame", "true_accuracy", "yield_checks", "SYNTHETIC_MEMBERS"]

Factory = Callable[[int], Predictor]

# name -> (quality, family)
SYNTHETIC_MEMBERS = {"alpha": (0.00, "etnas"), "beta": (0.05, "etnas"), "gamma": (0.09, "mobilenetv2"),
                     "delta": (0.02, "efficientnet_lite0")}


def true_accuracy(task_difficulty: float, task_size_log: float, quality: float, lr_log10: float, optimizer: str,
                  frozen_frac: float, budget_s: float) -> float:
    best_lr = (-1.5 if optimizer == "sgd" else -2.5) + 0.3 * (task_size_log - 2.5)
    lr_term = -0.12 * (lr_log10 - best_lr) ** 2
    freeze_term = 0.06 * frozen_frac * (2.6 - task_size_log)
    budget_term = 0.06 * math.log(budget_s / 10.0)
    return float(np.clip(0.55 - 0.3 * task_difficulty + quality + lr_term + freeze_term + budget_term, 0.02, 0.99))


def synthetic_frame(n_tasks: int, rows_per_task: int = 12, seed: int = 0, noise: float = 0.01,
                    task_offset: int = 0) -> pl.DataFrame:
    """Feature rows (as the real pipeline names them) plus ``y`` and ``group``."""
    import polars as pl

    rows = []
    names = list(SYNTHETIC_MEMBERS)
    for t in range(task_offset, task_offset + n_tasks):
        trng = np.random.default_rng([seed, t])
        difficulty = float(trng.uniform(0, 1))
        size_log = float(trng.uniform(1.8, 3.4))
        classes = float(trng.integers(2, 11))
        for _ in range(rows_per_task):
            name = names[int(trng.integers(len(names)))]
            quality, family = SYNTHETIC_MEMBERS[name]
            lr_log10 = float(trng.choice([-2.5, -2.0, -1.5, -1.0]))
            optimizer = str(trng.choice(["sgd", "adamw"]))
            frozen = int(trng.integers(0, 5))
            budget = float(trng.choice([10.0, 30.0, 60.0]))
            y = true_accuracy(difficulty, size_log, quality, lr_log10, optimizer, frozen / 4, budget)
            rows.append({
                "task_num_classes": classes,
                "task_num_train_log10": size_log,
                "task_pixel_std": 0.2 + 0.2 * difficulty + float(trng.normal(0, 0.005)),
                "task_source": "synthetic",
                "model_name": name,
                "model_family": family,
                "model_source_accuracy": 0.6 + quality,
                "model_params_log10": 6.0 + 10 * quality,
                "lr_log10": lr_log10,
                "optimizer": optimizer,
                "schedule": str(trng.choice(["cosine", "step"])),
                "frozen_stages": float(frozen),
                "frozen_frac": frozen / 4,
                "budget_s": budget,
                "budget_log": math.log(budget),
                "planned_epochs": budget / (2 + frozen) * (1 + quality),
                "y": y + float(trng.normal(0, noise)),
                "group": f"task{t}",
            })
    return pl.DataFrame(rows)


def _train(factory: Factory, seed: int, frame: pl.DataFrame) -> Predictor:
    p = factory(seed)
    p.learn_many(frame)
    return p


def _online(factory: Factory, seed: int, bulk: pl.DataFrame, stream: pl.DataFrame) -> Predictor:
    """Bulk-learn, then learn_one row by row (exercises every back-end's online path)."""
    p = _train(factory, seed, bulk)
    for row in stream.to_dicts():
        y, g = row.pop("y"), row.pop("group")
        p.learn_one(row, y, g)
    return p


def check_learns_synthetic(factory: Factory) -> None:
    train = synthetic_frame(30, seed=1)
    test = synthetic_frame(8, seed=1, task_offset=100)
    p = _train(factory, 0, train)
    rho = within_task_spearman(p.predict_many(test), test)
    assert rho > 0.6, f"within-task Spearman {rho:.3f} on held-out tasks; the back-end does not learn the function"


def check_improves_with_data(factory: Factory) -> None:
    test = synthetic_frame(8, seed=2, task_offset=100)
    small = _train(factory, 0, synthetic_frame(3, seed=2))
    large = _train(factory, 0, synthetic_frame(40, seed=2))
    r_small = within_task_spearman(small.predict_many(test), test)
    r_large = within_task_spearman(large.predict_many(test), test)
    assert r_large > r_small + 0.05, f"Spearman {r_small:.3f} with 3 tasks vs {r_large:.3f} with 40: no improvement"


def check_unseen_model_name(factory: Factory) -> None:
    p = _train(factory, 0, synthetic_frame(10, seed=3))
    row = synthetic_frame(1, rows_per_task=1, seed=3).to_dicts()[0]
    row.update({"model_name": "never-seen-member", "model_family": "new-family", "brand_new_feature": 1.0})
    del row["task_pixel_std"]  # and a disappearing feature
    y, g = row.pop("y"), row.pop("group")
    v = p.predict_one(row)
    assert math.isfinite(v), f"prediction {v} for an unseen model name"
    p.learn_one(row, y, g)  # learning from it works too
    assert math.isfinite(p.predict_one(row))


def check_deterministic(factory: Factory) -> None:
    bulk, stream = synthetic_frame(10, seed=4), synthetic_frame(2, seed=4, task_offset=50)
    test = synthetic_frame(3, seed=4, task_offset=100)
    a = _online(factory, 7, bulk, stream).predict_many(test)
    b = _online(factory, 7, bulk, stream).predict_many(test)
    assert np.array_equal(a, b), "two predictors with the same seed and data disagree"


def check_save_load(factory: Factory) -> None:
    bulk, stream = synthetic_frame(10, seed=5), synthetic_frame(2, seed=5, task_offset=50)
    more = synthetic_frame(2, seed=5, task_offset=60)
    test = synthetic_frame(3, seed=5, task_offset=100)
    p = _online(factory, 0, bulk, stream)
    with tempfile.TemporaryDirectory() as d:
        p.save(d)
        q = load_predictor(d)
    assert np.allclose(p.predict_many(test), q.predict_many(test), rtol=0, atol=1e-12), "save/load changed predictions"
    for r in (p, q):  # and both continue learning identically
        for row in more.to_dicts():
            y, g = row.pop("y"), row.pop("group")
            r.learn_one(row, y, g)
    same = np.allclose(p.predict_many(test), q.predict_many(test), rtol=0, atol=1e-12)
    assert same, "a loaded predictor learns differently"


def check_empty(factory: Factory) -> None:
    import polars as pl

    p = factory(0)
    test = synthetic_frame(1, rows_per_task=3, seed=6)
    pred = p.predict_many(test)  # untrained: a prior, not an error
    assert pred.shape == (3,) and np.isfinite(pred).all()
    assert math.isfinite(p.predict_one({}))
    p.learn_many(test.head(0))  # nothing to learn is fine
    assert p.predict_many(test.head(0)).shape == (0,)
    assert p.predict_many(pl.DataFrame()).shape == (0,)
    p.learn_many(test)  # a handful of rows: still usable
    assert np.isfinite(p.predict_many(test)).all()


def yield_checks() -> Iterator[Callable[[Factory], None]]:
    """Every check, in order; each takes ``factory(seed) -> Predictor``."""
    yield check_learns_synthetic
    yield check_improves_with_data
    yield check_unseen_model_name
    yield check_deterministic
    yield check_save_load
    yield check_empty
