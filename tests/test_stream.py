"""``nasoa stream``: regret against a reference the stream does not choose, resuming, the control
without learning. The adapt runs are stand-ins (canned accuracies), so these run in milliseconds;
tests/test_adapt.py runs a real stream end to end."""

from __future__ import annotations

import json

import pytest

import nasoa.app.adapt
from nasoa.core.errors import NasoaError
from nasoa.app.stream import run_stream

# (strategy, task index) -> validation accuracy of the stand-in run
ACC = {("nasoa", 0): 0.60, ("practice", 0): 0.80, ("default", 0): 0.70, ("logme", 0): 0.90,
       ("nasoa", 1): 0.60, ("practice", 1): 0.50, ("default", 1): 0.55, ("logme", 1): 0.40}


@pytest.fixture()
def fake_adapt(monkeypatch):
    calls: list[dict] = []

    def adapt(data, budget_s, *, strategy="nasoa", seed=0, store=None, out=None, device="auto", learn=True,
              progress=None, start_time=None, **_):
        i = int(data.rsplit("=", 1)[1])
        calls.append({"strategy": strategy, "task": i, "learn": learn, "seed": seed})
        if getattr(adapt, "fail", None) == (strategy, i):
            adapt.fail = None
            raise KeyboardInterrupt
        return {"model": f"m-{strategy}", "regime": {"lr": 0.01}, "val_accuracy": ACC[(strategy, i)],
                "predicted_accuracy": 0.7 if strategy == "nasoa" else None, "recommend_ms": 12.5,
                "elapsed_s": budget_s * 0.9, "run_id": None}

    monkeypatch.setattr(nasoa.app.adapt, "adapt", adapt)
    return adapt, calls


def _tasks(tmp_path):
    path = tmp_path / "tasks.txt"
    path.write_text("builtin:digits?seed=0 10s\nbuiltin:digits?seed=1 10s\n")
    return path


def test_regret_is_non_zero_when_the_reference_beats_the_pick(tmp_path, fake_adapt):
    adapt, calls = fake_adapt
    res = run_stream(_tasks(tmp_path), tmp_path / "s", store=tmp_path / "x.sqlite")
    r0, r1 = res["rows"]
    assert r0["reference"]["strategy"] == "practice" and r0["regret"] == pytest.approx(0.2)
    assert r0["margin"] == pytest.approx(-0.2)
    assert r1["regret"] == 0 and r1["margin"] == pytest.approx(0.1)  # the pick beat the reference
    assert res["mean_regret"] == pytest.approx(0.1) and r1["mean_regret_so_far"] == pytest.approx(0.1)
    assert res["mean_recommend_ms"] == 12.5
    # the stream learns from its own runs only; the reference runs on the same split (seed) and is never learned
    assert [(c["strategy"], c["learn"], c["seed"]) for c in calls] == [
        ("nasoa", True, 0), ("practice", False, 0), ("nasoa", True, 1), ("practice", False, 1)]
    out = tmp_path / "s"
    assert (out / "stream.png").read_bytes()[:4] == b"\x89PNG" and "0.2000" in (out / "stream.md").read_text()


def test_oracle_grid_takes_the_best_of_the_fixed_grid(tmp_path, fake_adapt):
    res = run_stream(_tasks(tmp_path), tmp_path / "s", reference="grid")
    r0, r1 = res["rows"]
    assert r0["reference"]["strategy"] == "logme" and r0["regret"] == pytest.approx(0.3)
    assert r1["reference"]["strategy"] == "default" and r1["regret"] == 0
    assert [r["strategy"] for r in r0["reference"]["runs"]] == ["practice", "default", "logme"]


def test_stream_resumes_a_missing_reference_without_rerunning_the_pick(tmp_path, fake_adapt):
    adapt, calls = fake_adapt
    adapt.fail = ("practice", 1)
    with pytest.raises(KeyboardInterrupt):
        run_stream(_tasks(tmp_path), tmp_path / "s")
    state = json.loads((tmp_path / "s" / "stream.json").read_text())
    assert [("reference" in d) for d in state["done"]] == [True, False]
    calls.clear()
    res = run_stream(_tasks(tmp_path), tmp_path / "s")
    assert [(c["strategy"], c["task"]) for c in calls] == [("practice", 1)]
    assert res["tasks"] == 2 and res["rows"][1]["regret"] == 0
    calls.clear()
    run_stream(_tasks(tmp_path), tmp_path / "s")
    assert calls == []  # everything done: nothing runs again
    with pytest.raises(NasoaError, match="other settings: learn True"):
        run_stream(_tasks(tmp_path), tmp_path / "s", learn=False)


def test_no_learn_control_records_nothing(tmp_path, fake_adapt):
    adapt, calls = fake_adapt
    res = run_stream(_tasks(tmp_path), tmp_path / "s", learn=False, reference="none")
    assert all(not c["learn"] for c in calls) and [c["strategy"] for c in calls] == ["nasoa", "nasoa"]
    assert res["mean_regret"] is None and all(r["regret"] is None for r in res["rows"])
    assert (tmp_path / "s" / "stream.png").exists()
    with pytest.raises(NasoaError, match="unknown reference"):
        run_stream(_tasks(tmp_path), tmp_path / "t", reference="oracle")


def test_a_refit_left_out_of_a_budget_runs_between_tasks(tmp_path):
    from nasoa.meta import synthetic
    from nasoa.meta.metamodel import MetaModel
    from nasoa.meta.store import ExperienceStore
    from nasoa.app.stream import refit_store_model_if_due

    zoo = synthetic.synthetic_zoo(2)
    st = ExperienceStore(tmp_path / "s.sqlite")
    st.append_many(synthetic.synthetic_runs(zoo, 4, 6, seed=0))
    assert not refit_store_model_if_due(st.path)  # no snapshot yet: nothing to do
    mm = MetaModel.load(st, zoo=zoo)
    assert not refit_store_model_if_due(st.path)  # a snapshot with no refit due: only its manifests are read
    mm.predictor.base.refit_due = True  # as a learn on a store above inline_refit_rows leaves it
    mm._save_cache(mm.snapshot_dir)
    fits = mm.predictor.base.n_fits
    assert refit_store_model_if_due(st.path)
    after = MetaModel.load(st, zoo=zoo)
    assert after.predictor.base.n_fits == fits + 1 and not after.refit_due
    assert not refit_store_model_if_due(st.path)
