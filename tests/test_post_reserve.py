"""The time adapt keeps free after training is measured: the store keeps what recent runs took,
and the next run reserves a little more than the slowest of them, on this CPU only."""

from __future__ import annotations

import json

import pytest

from nasoa.app import record
from nasoa.meta.store import ExperienceStore


@pytest.fixture()
def store(tmp_path):
    st = ExperienceStore(tmp_path / "exp.sqlite")
    yield st
    st.close()


def test_without_measurements_the_default_reserve_stands(store):
    assert record.post_reserve_s(None) == record.POST_RESERVE_S
    assert record.post_reserve_s(store) == record.POST_RESERVE_S
    record.remember_post_s(store, 0.2)
    record.remember_post_s(store, 0.25)
    assert record.post_reserve_s(store) == record.POST_RESERVE_S  # two are not enough


def test_the_reserve_follows_the_slow_end_of_recent_runs(store):
    for s in (0.2, 0.25, 0.3, 0.22, 0.8):
        record.remember_post_s(store, s)
    took = [0.2, 0.25, 0.3, 0.22, 0.8]
    import numpy as np

    assert record.post_reserve_s(store) == pytest.approx(record.POST_SAFETY * float(np.quantile(took, 0.9)))
    for _ in range(record.POST_WINDOW):  # the list keeps the last POST_WINDOW: the slow one ages out
        record.remember_post_s(store, 0.1)
    assert len(json.loads(store.get_meta(record.POST_KEY))) == record.POST_WINDOW
    assert record.post_reserve_s(store) == record.POST_RESERVE_MIN_S  # 1.25 x 0.1 is below the floor


def test_other_cpus_and_damaged_entries_are_ignored(store, monkeypatch):
    monkeypatch.setattr(record, "cpu_model", lambda: "other CPU")
    for s in (3.0, 3.0, 3.0):
        record.remember_post_s(store, s)
    monkeypatch.setattr(record, "cpu_model", lambda: "this CPU")
    assert record.post_reserve_s(store) == record.POST_RESERVE_S
    store.set_meta(record.POST_KEY, "{not json")
    assert record.post_reserve_s(store) == record.POST_RESERVE_S
    record.remember_post_s(store, 0.5)  # a damaged list starts again
    assert [v["s"] for v in json.loads(store.get_meta(record.POST_KEY))] == [0.5]
