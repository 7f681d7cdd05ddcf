"""The predictor check suite (nasoa.meta.checks) tells a learner from a broken one: its synthetic
frame is nasoa.meta.synthetic's runs through the real feature pipeline, and the learning checks
fail on predictors that ignore what they were taught."""

from __future__ import annotations

import numpy as np
import pytest

from nasoa.meta import checks, synthetic
from nasoa.meta.features import feature_columns
from nasoa.meta.predictors import make_predictor


class _Shuffled:
    """LightGBM whose predictions come out in a random order: learns, then reports nonsense."""

    def __init__(self, seed: int):
        self.inner, self.rng = make_predictor("lgbm-regressor", seed), np.random.default_rng(seed)

    def learn_many(self, frame) -> None:
        self.inner.learn_many(frame)

    def predict_many(self, frame) -> np.ndarray:
        return self.rng.permutation(self.inner.predict_many(frame))


class _Forgetful:
    """LightGBM that keeps only the first three tasks it is shown: more data never helps."""

    def __init__(self, seed: int):
        self.inner = make_predictor("lgbm-regressor", seed)

    def learn_many(self, frame) -> None:
        keep = frame["group"].unique(maintain_order=True).head(3).to_list()
        self.inner.learn_many(frame.filter(frame["group"].is_in(keep)))

    def predict_many(self, frame) -> np.ndarray:
        return self.inner.predict_many(frame)


def test_the_check_frame_is_the_synthetic_runs_through_the_real_pipeline():
    frame = checks.synthetic_frame(2, rows_per_task=5, seed=3, noise=0.0)
    runs = synthetic.synthetic_runs(synthetic.synthetic_zoo(checks.CHECK_MEMBERS), 2, 5, seed=3, noise=0.0)
    assert frame.height == 10 and set(frame.columns) == set(feature_columns(frame)) | {"y", "group"}
    assert frame["y"].to_list() == pytest.approx([r.val_accuracy for r in runs])  # the one known function
    assert frame["group"].to_list() == [r.task_id for r in runs]
    assert not hasattr(checks, "true_accuracy")  # one ground truth: nasoa.meta.synthetic's


def test_learning_checks_fail_on_broken_predictors():
    with pytest.raises(AssertionError, match="does not learn"):
        checks.check_learns_synthetic(_Shuffled)
    with pytest.raises(AssertionError, match="no improvement"):
        checks.check_improves_with_data(_Forgetful)
    checks.check_learns_synthetic(lambda seed: make_predictor("lgbm-regressor", seed))  # the unbroken one passes
