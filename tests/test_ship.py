"""The shipped experience: packaging a store (``nasoa.meta.ship``), seeding a fresh store with it
and its fitted model, and the per-store model cache of ``MetaModel.load``."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from nasoa.app import adapt as A
from nasoa.app import experience as E
from nasoa.meta.features import training_frame
from nasoa.meta.metamodel import MetaModel, default_model_dir, snapshot_is_current
from nasoa.meta.store import ExperienceStore, RunRecord
from nasoa.zoo import profiled_records


def _fill(path, n_tasks=8, per_task=6, seed=0) -> ExperienceStore:
    rng = np.random.default_rng(seed)
    st = ExperienceStore(path)
    recs = []
    for t in range(n_tasks):
        k = int(rng.integers(2, 10))
        for i in range(per_task):
            m = int(rng.integers(3))
            lr = float(rng.choice([0.003, 0.01, 0.03]))
            budget = float(rng.choice([10.0, 30.0]))
            acc = 0.5 + 0.1 * m - 0.02 * k + 0.05 * (budget > 10) + float(rng.normal(0, 0.01))
            recs.append(RunRecord(
                task_id=f"t{t}", task_spec=f"builtin:digits?per_class={10 + t}",
                task_features={"task_num_classes": float(k), "task_num_train": 100.0 * k, "task_num_val": 25.0 * k,
                               "logme": {}},
                model_name=f"m{m}", model_features={"model_name": f"m{m}", "model_params_log10": 5.0 + m,
                                                    "model_num_stages": 4.0, "model_step_ms_full": 20.0 + 10 * m},
                regime={"lr": lr, "frozen_stages": i % 3, "schedule": "cosine", "optimizer": "sgd", "batch_size": 64},
                budget_s=budget, val_accuracy=acc, elapsed_s=budget * 0.97, seed=i, strategy="random",
                extra={"collect": {"seed": 0, "index": t * per_task + i}}))
    st.append_many(recs, counter="collect:seed=0")
    st.set_meta("collect:seed=0:sampling", json.dumps({"budgets": [10.0, 30.0]}))
    return st


def test_ship_then_a_fresh_store_starts_warm_with_the_fitted_model(tmp_path, monkeypatch):
    from nasoa.meta.ship import ship

    _fill(tmp_path / "collected.sqlite")
    dest = tmp_path / "data"
    m = ship(tmp_path / "collected.sqlite", dest, zoo=profiled_records())
    assert m["runs"] == 48 and m["tasks"] == 8 and m["collect"]["counters"] == {"collect:seed=0": 48}
    assert m["collect"]["sampling"]["collect:seed=0:sampling"] == {"budgets": [10.0, 30.0]}
    assert (dest / "experience.parquet").is_file() and (dest / "experience.model" / "metamodel.json").is_file()
    assert m["model"]["runs_learned"] == 48

    monkeypatch.setattr(E, "shipped_experience", lambda: dest / "experience.parquet")
    st = A.open_store(tmp_path / "user.sqlite")
    assert st.count() == 48
    mdir = default_model_dir(st.path)
    assert (mdir / "metamodel.json").is_file()  # installed: no fit on first use
    mm = MetaModel.load(st, zoo=profiled_records())
    assert mm.predictor.n_seen == 48 and mm.last_run_id == 48
    fitted = MetaModel.fit(st, zoo=profiled_records())
    frame = fitted._learn_frame(training_frame(st.runs(), fitted.time_model))
    assert np.allclose(mm.predictor.predict_many(frame), fitted.predictor.predict_many(frame), atol=1e-9)
    # A store that already has runs is never re-seeded, and its model is left alone.
    A.open_store(tmp_path / "user.sqlite")
    assert ExperienceStore(tmp_path / "user.sqlite").count() == 48


def test_shipped_model_is_not_installed_for_other_rows(tmp_path, monkeypatch):
    from nasoa.meta.ship import ship

    _fill(tmp_path / "collected.sqlite")
    dest = tmp_path / "data"
    ship(tmp_path / "collected.sqlite", dest, zoo=profiled_records())
    doc = json.loads((dest / "experience.model" / "metamodel.json").read_text())
    doc["last_run_id"] = 47  # as if fitted on other rows
    (dest / "experience.model" / "metamodel.json").write_text(json.dumps(doc))
    monkeypatch.setattr(E, "shipped_experience", lambda: dest / "experience.parquet")
    st = A.open_store(tmp_path / "user.sqlite")
    assert st.count() == 48 and not default_model_dir(st.path).exists()


def test_upgrade_adds_a_newer_ship_to_a_seeded_store_and_refits_with_its_grid(tmp_path, monkeypatch, capsys):
    """A store seeded by an earlier version (ship v1) plus a run of its own: the newer ship v2 (v1's
    runs and 48 more, another regime grid) is counted as missing, `upgrade_store` appends exactly
    those, keeps the own run, refits with v2's back-end and grid; a second upgrade does nothing.
    `nasoa adapt`'s note says so while runs are missing, and nothing once they are in."""
    from nasoa.cli.adapt import _note_shipped_gap
    from nasoa.meta.candidates import Grid
    from nasoa.meta.metamodel import saved_grid
    from nasoa.meta.ship import ship

    _fill(tmp_path / "collected.sqlite")
    ship(tmp_path / "collected.sqlite", tmp_path / "v1", zoo=profiled_records())
    _fill(tmp_path / "collected.sqlite", seed=1)  # the collection went on: 48 more runs
    v2_grid = Grid(lrs=(0.001, 0.01))
    ship(tmp_path / "collected.sqlite", tmp_path / "v2", zoo=profiled_records(), grid=v2_grid)

    monkeypatch.setattr(E, "shipped_experience", lambda: tmp_path / "v1" / "experience.parquet")
    user = A.open_store(tmp_path / "user.sqlite")
    own = _fill(tmp_path / "own.sqlite", n_tasks=1, per_task=1, seed=7).records()[0]
    user.append(own)
    assert user.count() == 49 and E.shipped_gap(user) == 0

    monkeypatch.setattr(E, "shipped_experience", lambda: tmp_path / "v2" / "experience.parquet")
    assert E.shipped_gap(user) == 48
    _note_shipped_gap(tmp_path / "user.sqlite")
    assert "ships 48 runs of experience the store lacks" in capsys.readouterr().err
    res = E.upgrade_store(user, zoo=profiled_records())
    assert res["added"] == 48 and res["runs"] == 97 and res["refit"]
    shipped = json.loads((tmp_path / "v2" / "experience.model" / "metamodel.json").read_text())
    assert res["backend"] == shipped["backend"]
    assert E.shipped_gap(user) == 0 and own.uid in user.stored_uids([own.uid])
    assert saved_grid(default_model_dir(user.path)).lrs == (0.001, 0.01)
    mm = MetaModel.load(user, zoo=profiled_records())
    assert mm.predictor.n_seen == 97 and mm.last_run_id == user.runs()["id"].max()  # every run: no catch-up
    again = E.upgrade_store(user, zoo=profiled_records())
    assert again["added"] == 0 and not again["refit"]
    _note_shipped_gap(tmp_path / "user.sqlite")
    assert capsys.readouterr().err == ""
    # A snapshot of an older format (it learned features rows no longer carry) is refitted, runs or not.
    meta = default_model_dir(user.path) / "metamodel.json"
    meta.write_text(json.dumps(json.loads(meta.read_text()) | {"format_version": 1}))
    old = E.upgrade_store(user, zoo=profiled_records())
    assert old["added"] == 0 and old["refit"] and json.loads(meta.read_text())["format_version"] >= 2
    # One whose LightGBM boosters were sized before capacities (their settings saved as numbers, no
    # "capacity") still loads, with those settings; upgrade refits it with this version's sizing.
    base = default_model_dir(user.path) / json.loads(meta.read_text())["predictor"] / "base" / "manifest.json"
    manifest = json.loads(base.read_text())
    params = manifest["params"]
    assert params["capacity"] == "auto" and params["n_rounds"] is None
    manifest["params"] = {k: v for k, v in params.items() if k != "capacity"} | {
        "n_rounds": 150, "learning_rate": 0.08, "num_leaves": 15}
    base.write_text(json.dumps(manifest))
    top = json.loads((base.parent.parent / "manifest.json").read_text())  # as that version saved it: its
    top["params"]["base"] = manifest["params"]  # sub-manifest's checksum beside the parts' settings
    top["state"]["sub"]["base"] = hashlib.sha256(base.read_bytes()).hexdigest()
    (base.parent.parent / "manifest.json").write_text(json.dumps(top))
    assert not snapshot_is_current(default_model_dir(user.path))
    pre = MetaModel.load(user, zoo=profiled_records())
    assert (pre.predictor.base.capacity, pre.predictor.base.n_rounds) == ("small", 150)
    assert E.upgrade_store(user, zoo=profiled_records())["refit"]
    assert snapshot_is_current(default_model_dir(user.path))
    # One saved before the pairwise part (no pairwise settings) loads without it; upgrade refits it.
    base = default_model_dir(user.path) / json.loads(meta.read_text())["predictor"] / "base" / "manifest.json"
    manifest = json.loads(base.read_text())
    manifest["params"] = {k: v for k, v in manifest["params"].items() if not k.startswith("pairwise")}
    base.write_text(json.dumps(manifest))
    top = json.loads((base.parent.parent / "manifest.json").read_text())
    top["params"]["base"] = manifest["params"]
    top["state"]["sub"]["base"] = hashlib.sha256(base.read_bytes()).hexdigest()
    (base.parent.parent / "manifest.json").write_text(json.dumps(top))
    assert not snapshot_is_current(default_model_dir(user.path))
    assert MetaModel.load(user, zoo=profiled_records()).predictor.base.pairwise_weight == 0.0
    assert E.upgrade_store(user, zoo=profiled_records())["refit"]
    assert snapshot_is_current(default_model_dir(user.path))
    assert MetaModel.load(user, zoo=profiled_records()).predictor.base.pairwise_weight > 0


def test_load_fits_once_then_reuses_the_cached_model(tmp_path, monkeypatch):
    st = _fill(tmp_path / "s.sqlite")
    mdir = default_model_dir(st.path)
    assert not mdir.exists()
    mm = MetaModel.load(st, zoo=profiled_records())
    assert (mdir / "metamodel.json").is_file() and mm.predictor.n_seen == 48
    calls = []
    monkeypatch.setattr(MetaModel, "fit", classmethod(lambda cls, *a, **k: calls.append(1)))
    again = MetaModel.load(st, zoo=profiled_records())
    assert calls == [] and again.predictor.n_seen == 48
    assert not [p for p in mdir.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_ship_refuses_an_empty_store(tmp_path):
    from nasoa.core.errors import NasoaError
    from nasoa.meta.ship import ship

    ExperienceStore(tmp_path / "empty.sqlite")
    with pytest.raises(NasoaError, match="no runs"):
        ship(tmp_path / "empty.sqlite", tmp_path / "out", zoo=profiled_records())


def test_the_shipped_experience_is_what_its_manifest_says(tmp_path):
    """The table in the package: >= 600 runs on >= 40 tasks, collected by `nasoa meta collect`,
    matching its manifest; a fresh store gets it with its model, which recommends for a task."""
    import hashlib

    import polars as pl

    parquet = A.shipped_experience()
    if not parquet.is_file():
        pytest.skip("no shipped experience in this checkout")
    manifest = json.loads(parquet.with_name("experience.json").read_text())
    assert hashlib.sha256(parquet.read_bytes()).hexdigest() == manifest["sha256"]
    frame = pl.read_parquet(parquet)
    assert frame.height == manifest["runs"] >= 600 and frame["task_id"].n_unique() == manifest["tasks"] >= 40
    assert set(frame["strategy"].unique()) == {"random"}  # sampled by `nasoa meta collect`
    assert not any(s.startswith(("builtin:mnist?", "builtin:mnist5k")) for s in frame["task_spec"].to_list())
    st = A.open_store(tmp_path / "fresh.sqlite")
    assert st.count() == manifest["runs"] and (default_model_dir(st.path) / "metamodel.json").is_file()
    mm = MetaModel.load(st, zoo=profiled_records())
    assert mm.predictor.n_seen == manifest["runs"]
    feats = json.loads(frame["task_features"][0])
    top = mm.recommend(feats, budget_s=60, k=5)
    # ranked by the score; the accuracy shown (the level, without the within-task part) need not be in order
    assert top.height == 5 and top["score"].is_sorted(descending=True)
    assert top["predicted_accuracy"].is_between(0.0, 1.0).all()
