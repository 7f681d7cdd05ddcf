"""One check suite for every predictor back-end (after ``river.checks``).

``yield_checks(factory)`` yields check functions; each takes ``factory(seed) -> Predictor`` and
raises ``AssertionError`` on failure. The tests run every check on every back-end in
:data:`nasoa.meta.predictors.BACKENDS`; a new back-end passes them before it ships.

The data is the one known synthetic function, :func:`nasoa.meta.synthetic.true_accuracy`: runs from
:func:`nasoa.meta.synthetic.synthetic_runs` turned into feature rows by the real pipeline
(:func:`nasoa.meta.features.training_frame`), so a predictor is checked on the columns it meets in
use. Accuracy rises with the member's source accuracy and the epochs the budget buys, peaks at a
task- and optimizer-dependent learning rate, and frozen stages help small tasks but hurt large ones.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from .features import feature_columns, training_frame
from .metrics import within_task_spearman
from .predictors import Predictor, load_predictor
from .synthetic import synthetic_runs, synthetic_zoo

if TYPE_CHECKING:
    import polars as pl

__all__ = ["synthetic_frame", "yield_checks", "CHECK_MEMBERS"]

Factory = Callable[[int], Predictor]

CHECK_MEMBERS = 4  # members of the synthetic zoo the checks' runs are drawn on


def synthetic_frame(n_tasks: int, rows_per_task: int = 12, seed: int = 0, noise: float = 0.01,
                    task_offset: int = 0) -> pl.DataFrame:
    """Feature rows of ``n_tasks`` synthetic tasks (``rows_per_task`` runs each, accuracy with
    Gaussian ``noise``) as :func:`~nasoa.meta.features.training_frame` builds them from stored
    runs, plus ``y`` and ``group``."""
    runs = synthetic_runs(synthetic_zoo(CHECK_MEMBERS), n_tasks, rows_per_task, seed=seed, noise=noise,
                          task_offset=task_offset)
    frame = training_frame([r.to_dict() for r in runs])
    return frame.select(feature_columns(frame) + ["y", "group"])


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
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

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
