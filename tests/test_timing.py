"""The time model's calibration from measured runs (nasoa.meta.timing)."""

from __future__ import annotations

import pytest

from nasoa.meta.timing import calibrate_records

ZOO = [
    {"name": "fast", "train_step_ms": {"0": 10.0, "1": 5.0}, "train_step_batch": 64},
    {"name": "slow", "train_step_ms": {"0": 100.0, "1": 40.0}, "train_step_batch": 64},
]


def _runs(name, frozen, ms, n, threads=2, cpu="X", batch=64):
    return [{"model_name": name, "frozen_stages": frozen, "batch_size": batch, "step_ms": ms, "threads": threads,
             "cpu": cpu}] * n


def test_no_runs_keeps_the_profiled_tables():
    recs, info = calibrate_records(ZOO, [], cpu="X", threads=2)
    assert [r["train_step_ms"] for r in recs] == [r["train_step_ms"] for r in ZOO] and info["runs"] == 0


def test_many_runs_move_a_member_to_its_measured_speed_and_others_by_the_global_factor():
    runs = _runs("slow", 0, 300.0, 60) + _runs("slow", 1, 120.0, 60)  # slow runs 3x its table here
    recs, info = calibrate_records(ZOO, runs, cpu="X", threads=2)
    slow, fast = {r["name"]: r for r in recs}["slow"], {r["name"]: r for r in recs}["fast"]
    assert slow["train_step_ms"]["0"] == pytest.approx(300.0, rel=0.06)
    assert slow["train_step_ms"]["1"] == pytest.approx(120.0, rel=0.06)
    assert slow["profiled_step_ms"] == {"0": 100.0, "1": 40.0}
    # A member never run here moves by the shrunk global factor only.
    assert 2.5 < fast["train_step_ms"]["0"] / 10.0 < 3.0 and info["runs"] == 120


def test_few_runs_move_little_and_batch_is_accounted_for():
    recs, _ = calibrate_records(ZOO, _runs("fast", 0, 40.0, 1), cpu="X", threads=2)
    f = {r["name"]: r for r in recs}["fast"]["train_step_ms"]["0"]
    assert 12.0 < f < 30.0  # one run of 4x is evidence, not the whole truth
    # 32 images per step at the table's 64-image speed is a factor 1: nothing moves.
    recs, info = calibrate_records(ZOO, _runs("fast", 0, 5.0, 30, batch=32), cpu="X", threads=2)
    assert {r["name"]: r for r in recs}["fast"]["train_step_ms"]["0"] == pytest.approx(10.0, rel=1e-6)


def test_other_machines_thread_counts_and_contended_runs_are_ignored():
    contended = [dict(r, cpu_share=0.4) for r in _runs("slow", 0, 300.0, 50)]
    runs = _runs("slow", 0, 300.0, 50, threads=1) + _runs("slow", 0, 300.0, 50, cpu="Y") + contended
    recs, info = calibrate_records(ZOO, runs, cpu="X", threads=2)
    assert info["runs"] == 0 and {r["name"]: r for r in recs}["slow"]["train_step_ms"]["0"] == 100.0


def test_store_timings_read_runs_whose_json_holds_nan(tmp_path):
    """Python writes NaN into JSON (a diverged run's loss); the timings query must still read."""
    from nasoa.meta.store import ExperienceStore, RunRecord

    st = ExperienceStore(tmp_path / "s.sqlite")
    for i, loss in enumerate((float("nan"), 0.5)):
        st.append(RunRecord(task_id="t", task_spec="x", task_features={}, model_name="fast",
                            regime={"frozen_stages": 1}, budget_s=10.0, val_accuracy=0.5,
                            extra={"step_ms": 7.0 + i, "batch_size": 64, "threads": 2, "val_loss": loss,
                                   "machine": {"cpu": "X"}}))
    st.append(RunRecord(task_id="t", task_spec="x", task_features={}, model_name="fast", regime={}, budget_s=1.0,
                        val_accuracy=0.5))  # no measurement: left out
    rows = st.timings()
    assert [r["step_ms"] for r in rows] == [8.0, 7.0] and rows[0] == {
        "model_name": "fast", "frozen_stages": 1, "batch_size": 64, "step_ms": 8.0, "threads": 2, "cpu": "X",
        "cpu_share": None}
    assert len(st.timings(limit=1)) == 0  # the most recent run has no measurement
