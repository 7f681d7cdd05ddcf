"""The meta-learner: LogME, meta-features, descriptors, candidates, the predictor check suite on
every back-end, MetaModel recommendations, evaluation, collection and the ``nasoa meta`` CLI."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from _fake_store import TINY  # tests/: the helpers' module

from nasoa.core.errors import NasoaError
from nasoa.meta import checks, synthetic
from nasoa.meta.candidates import Grid, enumerate_candidates
from nasoa.meta.descriptors import MemberTable, descriptor
from nasoa.meta.features import TimeModel, feature_columns, row_features, task_meta_features
from nasoa.meta.logme import logme
from nasoa.meta.predictors import BACKENDS, load_predictor, make_predictor
from nasoa.meta.store import ExperienceStore
from nasoa.zoo import profiled_records

# ---------------------------------------------------------------------------------------------
# LogME


def test_logme_separable_features_score_higher_than_random():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 300)
    signal = np.eye(5)[y] * 3 + rng.normal(size=(300, 5))
    separable = np.concatenate([signal, rng.normal(size=(300, 27))], axis=1)
    random = rng.normal(size=(300, 32))
    assert logme(separable, y) > logme(random, y) + 0.2
    # wide features (N < D) take the SVD path and keep the order
    wide = rng.normal(size=(300, 400))
    assert logme(np.concatenate([signal, wide], axis=1), y) > logme(wide, y)
    # the score does not depend on the order of the samples
    perm = rng.permutation(300)
    assert logme(separable[perm], y[perm]) == pytest.approx(logme(separable, y), rel=1e-9)
    with pytest.raises(ValueError):
        logme(random, np.zeros(300, dtype=int))


# ---------------------------------------------------------------------------------------------
# Task meta-features


def test_task_meta_features_on_a_builtin_task(tmp_path):
    from nasoa.core.data import load_task
    from nasoa.meta.features import cached_task_features

    task = load_task("builtin:digits?per_class=20")
    t = time.perf_counter()
    f = task_meta_features(task)
    assert time.perf_counter() - t < 2.0
    assert f["task_num_classes"] == 10 and f["task_num_train"] == 200
    assert f["task_per_class_min"] == 20 and f["task_per_class_mean"] == 20 and f["task_imbalance"] == 1
    assert f["task_native_size"] == 8 and f["task_native_channels"] == 1
    # Only what the data says: no dataset name or other identity (a user's task comes from no known source).
    assert "task_source" not in f and all(isinstance(v, float) for v in f.values())
    assert 0 < f["task_pixel_mean"] < 1 and 0 < f["task_pixel_std"] < 1 and f["task_pixel_entropy"] > 0
    # cached per task, LogME for each member added once
    st = ExperienceStore(tmp_path / "s.sqlite")
    calls = []

    def extract(name):
        calls.append(name)
        x = task.x_train.reshape(task.num_train, -1).numpy().astype(float)
        return x[:, :16] + (0 if name == "a" else np.random.default_rng(0).normal(size=(task.num_train, 16)) * 50), \
            task.y_train.numpy()

    tid, f1 = cached_task_features(task, store=st, members=["a", "b"], extract=extract)
    assert set(f1["logme"]) == {"a", "b"} and f1["logme"]["a"] > f1["logme"]["b"] and calls == ["a", "b"]
    tid2, f2 = cached_task_features(task, store=st, members=["a", "b", "c"], extract=extract)
    assert tid2 == tid and calls == ["a", "b", "c"] and st.task_features(tid)["logme"].keys() == {"a", "b", "c"}


# ---------------------------------------------------------------------------------------------
# Descriptors and candidates


def test_descriptor_is_generic_over_record_keys():
    rec = synthetic.synthetic_zoo(1)[0] | {"new_measured_stat": 3.5, "notes": "ignored"}
    d = descriptor(rec)
    assert d["model_name"] == "synth-00" and d["model_family"] == "mobilenetv2"
    assert d["model_params_log10"] == pytest.approx(math.log10(rec["params"]))
    assert d["model_new_measured_stat"] == 3.5 and d["model_num_stages"] == 4
    assert d["_train_step_ms"]["0"] == rec["train_step_ms"]["0"] and "model_train_step_ms" not in d


def test_candidates_grid_time_model_and_budget_error():
    zoo = synthetic.synthetic_zoo(3)
    members = MemberTable(zoo)
    task = synthetic.synthetic_task_features(0, 0, zoo)
    every = enumerate_candidates(members, task, 1e6)
    assert every.height == 3 * 5 * 4 * 2 * 2
    assert set(feature_columns(every)) >= {"lr_log10", "planned_epochs", "images_seen", "logme", "model_name",
                                           "task_num_train", "budget_s", "frozen_frac"}
    assert "step_ms" in every.columns and "step_ms" not in feature_columns(every)  # shown, never learned
    assert every["logme"].null_count() == 0
    # more budget, more epochs; feasibility drops the slow regimes first
    need = every["_min_budget_s"]
    budget = float(need.min() + need.max()) / 2
    small = enumerate_candidates(members, task, budget)
    assert 0 < small.height < every.height and (small["planned_epochs"] >= 1 - 1e-9).all()
    with pytest.raises(NasoaError, match=r"pass --budget \d+s"):
        enumerate_candidates(members, task, 1.0)
    grid = Grid(lrs=(0.01,), frozen_stages=(0, 2), schedules=("cosine",), optimizers=("sgd",), batch_sizes=(32, 64))
    assert enumerate_candidates(members, task, 1e6, grid).height == 3 * 2 * 2
    # the one-row feature builder and the vectorised one agree
    row = every.row(17, named=True)
    rec = next(r for r in zoo if r["name"] == row["model_name"])
    single = row_features(task, descriptor(rec), row, 1e6, TimeModel())
    for k, v in single.items():
        assert row[k] == pytest.approx(v) if isinstance(v, float) else row[k] == v, k


# ---------------------------------------------------------------------------------------------
# The predictor check suite, on every back-end


@pytest.mark.parametrize("check", list(checks.yield_checks()), ids=lambda c: c.__name__)
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_predictor_check_suite(backend, check, request):
    learning = (checks.check_learns_synthetic, checks.check_improves_with_data)
    if backend == "most-often-best" and check in learning:
        # The baseline ignores the task and the budget by design: it cannot learn the synthetic
        # function, and more tasks only sharpen its one fixed ranking. The meta-model must beat it.
        pytest.skip("the task-blind baseline is not a learner of task features")
    if backend == "river" and check is checks.check_improves_with_data:
        # On the check frame (nasoa.meta.synthetic's runs through the feature pipeline) river's 3-task
        # forest of seed 2 ranks every run alike (Spearman 0, against 0.27 with 40 tasks; seeds 1, 3-5:
        # 0.28-0.57 against 0.21-0.51), so this check would pass by luck and fail on none of river's
        # regressions: it is not run for river. Whether river learns at all is the strict mark below.
        pytest.skip("river's forest does not learn the synthetic function (see check_learns_synthetic)")
    if backend == "river" and check is checks.check_learns_synthetic:
        # A known weakness, kept visible (strict: a river that learns turns this into a failure to
        # remove the mark). The forest reaches a within-task Spearman of 0.14-0.45 over seeds 1-5
        # (LightGBM 0.63-0.85, the task-blind baseline 0.32).
        request.applymarker(pytest.mark.xfail(strict=True, raises=AssertionError,
                                              reason="river's forest does not learn the synthetic function"))
    check(lambda seed: make_predictor(backend, seed))


def test_lgbm_is_monotone_in_budget_and_saves_text():
    p = make_predictor("lgbm-regressor", 0)
    p.learn_many(checks.synthetic_frame(20, seed=9))
    row = checks.synthetic_frame(1, rows_per_task=1, seed=9).drop("y", "group").to_dicts()[0]
    preds = []
    for b in (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 600.0):
        preds.append(p.predict_one(row | {"budget_s": b, "planned_epochs": b / 5, "images_seen": b * 100}))
    assert all(b >= a - 1e-12 for a, b in zip(preds, preds[1:])), preds
    assert p.feature_importances() and abs(sum(p.feature_importances().values()) - 1) < 1e-9


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_machine_twice_as_fast_at_half_the_budget_gets_the_same_prediction(backend):
    """What a run reaches depends on the epochs and images it trains on, not on the seconds or the
    machine that bought them: the budget in seconds and the step time are given with every row but
    learned by no back-end (they told the trees the machine, and a GPU's fell outside all of them)."""
    frame = checks.synthetic_frame(20, seed=9)
    assert "budget_s" in frame.columns and not {"budget_log", "step_ms"} & set(frame.columns)
    p = make_predictor(backend, 0)
    p.learn_many(frame)
    test = checks.synthetic_frame(3, seed=9, task_offset=100).drop("y", "group")
    faster = test.with_columns(pl.col("budget_s") / 2, step_ms=pl.lit(1.0))  # and a step time never seen
    assert np.array_equal(p.predict_many(test), p.predict_many(faster))
    row = test.to_dicts()[0]
    assert p.predict_one(row) == p.predict_one(row | {"budget_s": row["budget_s"] * 10, "step_ms": 0.5})
    if hasattr(p, "feature_importances") and p.feature_importances():
        assert not {"budget_s", "budget_log", "step_ms"} & set(p.feature_importances())


def test_lgbm_ranks_by_transferability_all_else_equal():
    """A member whose frozen features transfer better (higher k-NN accuracy and LogME, a smaller gap
    to the task's best member) is never predicted worse: the constraint that carries the
    transferability evidence to task families the experience never held (#11)."""
    frame = checks.synthetic_frame(20, seed=9)  # its k-NN scores are missing: give them a noisy signal
    noise = np.random.default_rng(0).normal(0.0, 0.1, frame.height)
    frame = frame.with_columns((pl.col("y") * 0.8 + pl.Series(noise)).clip(0.0, 1.0).alias("knn")).with_columns(
        (pl.col("knn").max().over("group") - pl.col("knn")).alias("knn_gap"))
    p = make_predictor("lgbm-regressor", 0)
    p.learn_many(frame)
    assert {"knn", "logme", "knn_gap", "logme_gap"} <= set(p.feature_importances())
    row = frame.drop("y", "group").to_dicts()[0]
    for key, values, rising in (("knn", (0.1, 0.3, 0.5, 0.7, 0.9), True), ("logme", (-1.0, -0.5, 0.0, 0.5, 1.0), True),
                                ("knn_gap", (0.0, 0.05, 0.1, 0.2, 0.4), False),
                                ("logme_gap", (0.0, 0.1, 0.3, 0.6, 1.0), False)):
        preds = [p.predict_one(row | {key: v}) for v in values]
        pairs = list(zip(preds, preds[1:]))
        assert all((b >= a - 1e-12) if rising else (b <= a + 1e-12) for a, b in pairs), (key, preds)


def test_saved_predictor_is_checked(tmp_path):
    p = make_predictor("lgbm-regressor", 0)
    p.learn_many(checks.synthetic_frame(5, seed=1))
    p.save(tmp_path / "p")
    assert (tmp_path / "p" / "booster.txt").read_text().startswith("tree")  # LightGBM's own text format
    text = (tmp_path / "p" / "booster.txt").read_text()
    (tmp_path / "p" / "booster.txt").write_text(text.replace("learning_rate", "learning_ratf", 1))
    with pytest.raises(NasoaError, match="checksum"):
        load_predictor(tmp_path / "p")
    with pytest.raises(NasoaError, match="no saved predictor"):
        load_predictor(tmp_path / "nothing")


# ---------------------------------------------------------------------------------------------
# MetaModel


@pytest.fixture(scope="module")
def zoo():
    return synthetic.synthetic_zoo(4)


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory, zoo):
    st = ExperienceStore(tmp_path_factory.mktemp("meta") / "experience.sqlite")
    st.append_many(synthetic.synthetic_runs(zoo, 30, 12, seed=0))
    return st


@pytest.fixture(scope="module")
def fitted(filled_store, zoo):
    from nasoa.meta.metamodel import MetaModel

    return MetaModel.fit(filled_store, zoo=zoo, backend="auto")


def test_recommend_picks_near_the_best(fitted, zoo):
    assert set(fitted.selection["table"]) == {"lgbm-regressor", "lgbm-ranker"}
    regrets, random_pick = [], []
    for t in (900, 901, 902, 903):
        task = synthetic.synthetic_task_features(t, 0, zoo)
        for budget in (10.0, 60.0):
            top = fitted.recommend(task, budget, k=5)
            assert top.height == 5 and top["rank"].to_list() == [1, 2, 3, 4, 5]
            # the unclipped score ranks; the accuracy shown is the back-end's accuracy estimate (the
            # level, without the within-task ranking part) clipped to [0, 1]
            assert (top["score"].diff().drop_nulls() <= 1e-12).all()
            acc = top["predicted_accuracy"].to_numpy()
            assert ((acc >= 0) & (acc <= 1)).all()
            again = fitted.predict(task, [{**r, "budget_s": budget} for r in top.to_dicts()])
            assert np.allclose(acc, again["predicted_accuracy"].to_numpy())
            assert np.allclose(top["score"].to_numpy(), again["score"].to_numpy())
            cands = fitted.candidates(task, budget).to_dicts()
            truth = [synthetic.true_accuracy(task, _member(zoo, c["model_name"]), c, budget) for c in cands]
            best = top.row(0, named=True)
            regrets.append(max(truth) - synthetic.true_accuracy(task, _member(zoo, best["model_name"]), best, budget))
            random_pick.append(max(truth) - float(np.mean(truth)))
    # near the best: a small fraction of the regret of picking at random
    assert float(np.mean(regrets)) < 0.015 and max(regrets) < 0.05, regrets
    assert float(np.mean(regrets)) < 0.25 * float(np.mean(random_pick)), (regrets, random_pick)
    regime = fitted.regime(top.row(0, named=True))
    assert regime["epochs"] is None and regime["lr"] in Grid().lrs


def test_explore_picks_the_optimistic_candidate(fitted, zoo):
    """--explore: the candidate whose score plus uncertainty is highest among the top 20 (the
    unclipped score, so candidates shown at accuracy 1.0 keep their order)."""
    from nasoa.app.choose import choose

    task = synthetic.synthetic_task_features(905, 0, zoo)
    top = fitted.recommend(task, 60.0, k=20)
    assert top["uncertainty"].null_count() < top.height
    bound = top["score"].to_numpy() + top["uncertainty"].fill_null(0.0).to_numpy()
    want = top.row(int(np.argmax(bound)), named=True)
    got = choose("nasoa", fitted, task, 60.0, explore=True)
    assert (got.model_name, got.regime["lr"], got.regime["frozen_stages"], got.regime["optimizer"]) == \
        (want["model_name"], want["lr"], want["frozen_stages"], want["optimizer"])
    plain = choose("nasoa", fitted, task, 60.0)
    assert (plain.model_name, plain.regime["lr"]) == (top["model_name"][0], top["lr"][0])


def _member(zoo, name):
    return next(r for r in zoo if r["name"] == name)


def test_predict_arbitrary_candidates_and_unseen_member(fitted, zoo):
    task = synthetic.synthetic_task_features(950, 0, zoo)
    out = fitted.predict(task, [
        {"model_name": "synth-03", "lr": 0.01, "frozen_stages": 0, "schedule": "cosine", "optimizer": "sgd",
         "batch_size": 64, "budget_s": 30},
        {"model_name": "brand-new", "lr": 0.01, "frozen_stages": 0, "schedule": "cosine", "optimizer": "sgd",
         "batch_size": 64, "budget_s": 30},
    ])
    assert out.height == 2 and out["predicted_accuracy"].is_finite().all()
    assert "uncertainty" in out.columns


def test_save_load_learn_and_catch_up(fitted, filled_store, zoo, tmp_path):
    from nasoa.meta.metamodel import MetaModel

    task = synthetic.synthetic_task_features(960, 0, zoo)
    before = fitted.recommend(task, 30.0, k=3)
    path = fitted.save(tmp_path / "model")
    loaded = MetaModel.load(filled_store, model_dir=path, zoo=zoo)
    assert loaded.recommend(task, 30.0, k=3).equals(before)
    n = filled_store.count()
    new = synthetic.synthetic_runs(zoo, 1, 3, seed=0, task_offset=960)
    rid = loaded.learn(new[0])
    assert rid == n + 1 and filled_store.count() == n + 1 and loaded.last_run_id == rid
    filled_store.append_many(new[1:])
    again = MetaModel.load(filled_store, model_dir=path, zoo=zoo)  # learns the 3 runs stored after the save
    assert again.predictor.n_seen == fitted.predictor.n_seen + 3 and again.last_run_id == n + 3


def test_empty_store_and_tiny_budget(tmp_path, zoo):
    from nasoa.meta.metamodel import MetaModel

    mm = MetaModel.load(tmp_path / "empty.sqlite", zoo=zoo)
    task = synthetic.synthetic_task_features(0, 0, zoo)
    top = mm.recommend(task, 60.0, k=3)
    assert top.height == 3 and top["model_name"][0] == "synth-03"  # untrained: best source accuracy first
    with pytest.raises(NasoaError, match="too small"):
        mm.recommend(task, 0.5)
    with pytest.raises(NasoaError, match="no members"):
        MetaModel(zoo=[]).recommend(task, 60.0)


def test_evaluate_and_plot(filled_store, zoo, tmp_path):
    from nasoa.meta.metamodel import MetaModel

    mm = MetaModel(store=filled_store, zoo=zoo)
    res = mm.evaluate(folds=3, backends=["lgbm-regressor"], plot=tmp_path / "pva.png")
    s = res["leave_tasks_out"]["lgbm-regressor"]
    assert res["tasks"] == filled_store.stats()["tasks"] and res["families"] == 3
    assert s["spearman"] > 0.6 and s["regret"] < 0.03 and 0 < s["ndcg3"] <= 1
    assert (tmp_path / "pva.png").read_bytes()[:4] == b"\x89PNG"
    assert len(res["per_task_task"]["lgbm-regressor"]) == res["tasks"]
    # One family held out at a time: every task is predicted once, by a model that saw none of its family.
    f = res["leave_families_out"]["lgbm-regressor"]
    assert set(f["families"]) == {"synthetic:family0", "synthetic:family1", "synthetic:family2"}
    assert all(v["per_decision"]["decisions"] >= v["tasks"] for v in f["families"].values())
    assert len(res["per_task_family"]["lgbm-regressor"]) == res["tasks"] and f["spearman"] > 0.5
    assert res["regret_floor"]["tasks"] == res["tasks"] and 0 <= res["regret_floor"]["regret"] < 0.5
    # Per decision (a task at one budget): the same predictions, regrouped.
    d = f["per_decision"]
    assert d is not None and d["decisions"] >= res["tasks"] and 0 <= d["regret"] <= f["regret"] + 1e-9
    assert res["regret_floor_decision"]["tasks"] == d["decisions"]
    lo, hi = d["regret_ci"]
    assert lo <= d["regret"] <= hi and f["regret_ci"][0] <= f["regret"] <= f["regret_ci"][1]
    # Every synthetic run lies in the default grid: no separate reading. A grid of one rate offers a
    # quarter of them, and the decisions among those are read apart, from the same predictions.
    assert res["offered_runs"] == res["runs"] and f["per_decision_offered"] is None
    from nasoa.meta.candidates import Grid

    mm.grid = Grid(lrs=(0.01,))
    one = mm.evaluate(backends=["lgbm-regressor"], by=("family",))
    o = one["leave_families_out"]["lgbm-regressor"]["per_decision_offered"]
    assert 0.15 * one["runs"] < one["offered_runs"] < 0.35 * one["runs"]
    assert o is not None and 0 < o["decisions"] < d["decisions"] and o["regret_ci"][0] <= o["regret"]
    assert one["leave_families_out"]["lgbm-regressor"]["per_decision"] == d  # the same predictions


def test_per_decision_regret_scores_regimes_at_one_budget_not_budgets_against_each_other():
    """A task whose long runs beat its short ones: ranking a short run first costs regret over the
    task, but not per decision when it is the best run of its budget; one-run decisions are dropped;
    a wrong pick within a budget still costs."""
    import polars as pl

    from nasoa.meta.evaluate import decision_key, decision_metrics, summarize, task_metrics

    preds = pl.DataFrame({"group": ["t"] * 5, "budget_s": [8.0, 8.0, 60.0, 60.0, 120.0],
                          "y": [0.70, 0.60, 0.90, 0.80, 0.95], "pred": [0.99, 0.10, 0.50, 0.40, 0.30]})
    preds = preds.with_columns(pl.col("pred").alias("accuracy"))
    assert abs(summarize(task_metrics(preds["pred"].to_numpy(), preds))["regret"] - 0.25) < 1e-9
    assert sorted(decision_key(preds)["group"].unique().to_list()) == ["t@60.0", "t@8.0"]
    d = decision_metrics(preds)
    assert d["decisions"] == 2 and d["regret"] == 0
    wrong = preds.with_columns(pl.Series("pred", [0.99, 0.10, 0.40, 0.50, 0.30]))
    assert abs(decision_metrics(wrong)["regret"] - 0.05) < 1e-9  # (0 + 0.10) / 2
    assert decision_metrics(preds.drop("budget_s")) is None


def test_regret_floor_grows_with_validation_noise_and_vanishes_when_runs_stand_apart():
    """Luck's floor: near zero for runs far apart on big validation splits, a few points for close
    runs on 20 validation images, smaller as the split grows; one-run tasks are skipped; the same
    seed gives the same floor; without the validation size there is none."""
    import polars as pl

    from nasoa.meta.evaluate import regret_floor

    def frame(accs: list[float], n_val: int, tasks: int = 3) -> pl.DataFrame:
        rows = [{"group": f"t{t}", "y": a, "task_num_val": float(n_val)} for t in range(tasks) for a in accs]
        return pl.DataFrame(rows + [{"group": "single", "y": 0.5, "task_num_val": float(n_val)}])

    apart = regret_floor(frame([0.3, 0.6, 0.95], 2000))
    assert apart is not None and apart["tasks"] == 3 and apart["regret"] < 1e-3
    close = [0.80, 0.81, 0.82, 0.83, 0.84]
    small, large = regret_floor(frame(close, 20)), regret_floor(frame(close, 2000))
    assert small["regret"] > 0.03 and large["regret"] < small["regret"] / 3
    assert regret_floor(frame(close, 20), seed=1) == regret_floor(frame(close, 20), seed=1)
    assert regret_floor(frame(close, 20).drop("task_num_val")) is None


def test_leave_families_out_never_trains_on_the_held_out_family():
    import polars as pl

    from nasoa.meta.evaluate import leave_families_out

    seen: list[set] = []

    class Spy:
        def learn_many(self, frame):
            seen.append(set(frame["group"].to_list()))

        def predict_many(self, frame):
            return frame["x"].to_numpy()

        def predict_accuracy_many(self, frame):
            return frame["x"].to_numpy() + 0.25  # scored by the mean absolute error, not by the ranking

    frame = pl.DataFrame({"x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "y": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                          "group": ["a", "a", "b", "b", "c", "c"], "family": ["f", "f", "f", "f", "g", "g"]})
    preds, per_task, summary = leave_families_out(frame, lambda s: Spy())
    assert seen == [{"c"}, {"a", "b"}] and summary["families"]["g"]["tasks"] == 1
    assert per_task["family"].to_list() == ["f", "f", "g"] and summary["regret"] == 0
    assert np.allclose(per_task["mae"].to_numpy(), 0.25)


# ---------------------------------------------------------------------------------------------
# Collection


def test_task_stream_is_deterministic_and_from_train_data():
    from nasoa.app.collect import CollectConfig, sample_task_spec
    from nasoa.core.data import list_builtin

    sources = [s for s in list_builtin() if s["name"] in ("digits", "lfw")]
    cfg = CollectConfig(runs=10)
    specs = [sample_task_spec(3, i, sources, cfg) for i in range(6)]
    assert specs == [sample_task_spec(3, i, sources, cfg) for i in range(6)]
    assert specs != [sample_task_spec(4, i, sources, cfg) for i in range(6)]
    assert all(s.startswith(("builtin:digits?classes=", "builtin:lfw?classes=")) for s in specs)


def test_collect_refuses_an_empty_zoo(tmp_path, monkeypatch):
    from nasoa.app.collect import CollectConfig, collect
    from nasoa.zoo import registry

    monkeypatch.setattr(registry, "records", lambda include_user=True: [])
    with pytest.raises(NasoaError, match="no pretrained members; run `nasoa zoo pretrain` first"):
        collect(CollectConfig(runs=2), tmp_path / "s.sqlite")




def test_collect_runs_the_trainer_and_resumes(tmp_path):
    """Two real (tiny, untrained) fine-tuning runs; then a resume that has nothing left to do."""
    from nasoa.app.collect import CollectConfig, collect

    from _fake_store import tiny_member

    rec = tiny_member()
    cfg = CollectConfig(runs=2, seed=1, budgets=(2.5,), runs_per_task=2, sources=("digits",), per_class=(10,),
                        max_classes=3, logme_images=40, pretrained=False)
    st = ExperienceStore(tmp_path / "s.sqlite")
    events = []
    out = collect(cfg, st, records=[rec], on_event=events.append)
    assert out["appended"] + out["skipped"] == 2 and st.counter(cfg.counter_key) == 2
    assert out["appended"] >= 1, events
    r = st.records()[0]
    assert r.strategy == "random" and r.task_spec.startswith("builtin:digits") and r.budget_s == 2.5
    assert 0 <= r.val_accuracy <= 1 and r.elapsed_s <= 2.5 + 1.5 and r.extra["collect"]["index"] == 0
    assert 0 < r.extra["speed_probe_ms"] < 1000  # the machine's speed, which rescales the run elsewhere
    assert TINY in r.task_features["logme"] and r.model_features["model_name"] == TINY
    assert collect(cfg, st, records=[rec])["appended"] == 0  # resumed: nothing left
    with pytest.raises(NasoaError, match="other sampling options"):  # run i must stay the same run
        collect(replace(cfg, runs=3, budgets=(5.0,)), st, records=[rec])


def test_collect_fine_tunes_only_the_members_named_and_scores_every_one(tmp_path):
    """--member: the regimes are drawn from the members named (a member just added to the zoo), the
    task features still score every member (the gaps to the best member describe the task, whatever
    runs on it), and an unknown name is refused before anything is written."""
    from nasoa.app.collect import CollectConfig, collect

    from _fake_store import tiny_member

    a = tiny_member()
    b = {**tiny_member(), "name": "tiny_b"}  # the same network under a second name: two members
    cfg = CollectConfig(runs=3, seed=2, budgets=(2.5,), runs_per_task=3, sources=("digits",), per_class=(10,),
                        max_classes=3, logme_images=40, pretrained=False, members=("tiny_b",))
    st = ExperienceStore(tmp_path / "s.sqlite")
    out = collect(cfg, st, records=[a, b])
    runs = st.records()
    assert out["appended"] == len(runs) >= 2
    assert {r.model_name for r in runs} == {"tiny_b"}
    assert set(runs[0].task_features["logme"]) == {TINY, "tiny_b"} == set(runs[0].task_features["knn"])
    # What scoring each member took rides on the task's first run only (one observation a task), as adapt's
    # set-up records it, and the time model's rows carry it.
    first, *rest = sorted(runs, key=lambda r: r.extra["collect"]["index"])
    scoring = first.extra["transfer"]
    assert set(scoring["s"]) == {TINY, "tiny_b"} and all(0 < s < 60 for s in scoring["s"].values())
    assert 0 < scoring["images"] <= cfg.logme_images and all("transfer" not in r.extra for r in rest)
    assert [t["transfer"] for t in st.timings() if t.get("transfer")] == [scoring]
    assert json.loads(st.get_meta(f"{cfg.counter_key}:sampling"))["members"] == ["tiny_b"]
    with pytest.raises(NasoaError, match="other sampling options"):  # another member set is another draw
        collect(replace(cfg, runs=4, members=None), st, records=[a, b])
    with pytest.raises(NasoaError, match=r"--member nope: no pretrained, profiled zoo member .*choose from "):
        collect(replace(cfg, seed=3, members=("nope",)), tmp_path / "t.sqlite", records=[a, b])
    assert not (tmp_path / "t.sqlite").exists()


def test_collect_samples_the_input_side_and_records_it(tmp_path):
    """With Grid(input_sizes) a member also runs below its profiled side: the run is trained at the
    sampled side and records it (extra.input_size), its descriptor keeps the profiled one, and the
    training frame sees the side it ran at. Grid(lrs): the learning rates are drawn from those."""
    from nasoa.app.collect import CollectConfig, collect
    from nasoa.meta.candidates import Grid
    from nasoa.meta.features import training_frame

    from _fake_store import tiny_member

    rec = tiny_member(32)
    cfg = CollectConfig(runs=2, seed=1, budgets=(2.5,), runs_per_task=2, sources=("digits",), per_class=(10,),
                        max_classes=3, logme_images=40, pretrained=False,
                        grid=Grid(input_sizes=(16,), lrs=(0.001,)))
    st = ExperienceStore(tmp_path / "s.sqlite")
    out = collect(cfg, st, records=[rec])
    assert out["appended"] >= 1
    runs = st.records()
    assert {r.extra["input_size"] for r in runs} == {16}
    assert {r.regime["lr"] for r in runs} == {0.001}  # not in the default grid
    assert {r.model_features["model_input_size"] for r in runs} == {32}
    from nasoa.cli.meta import run_line  # the collection's progress line names the side a run trained at

    r = runs[0]
    assert run_line(7, r) == (f"run 7: {TINY} 16px frozen {r.regime['frozen_stages']} lr 0.001 2.5s "
                              f"acc {r.val_accuracy:.3f} in {r.elapsed_s:.1f}s")
    frame = training_frame(st.runs(), None, {TINY: {k: v for k, v in descriptor(rec).items()}})
    assert set(frame["model_input_size"].to_list()) == {16.0}
    sampling = json.loads(st.get_meta(f"{cfg.counter_key}:sampling"))
    assert sampling["grid"]["input_sizes"] == [16] and sampling["grid"]["lrs"] == [0.001]


# ---------------------------------------------------------------------------------------------
# CLI


def _cli():
    import typer

    from nasoa.cli import meta
    from nasoa.cli._common import NasoaGroup

    root = typer.Typer(cls=NasoaGroup, add_completion=False)
    root.add_typer(meta.app, name="meta")

    @root.command("version")
    def _v() -> None:  # a second command keeps "meta" a sub-group
        pass

    return root


def test_cli_stats_fit_show(tmp_path, zoo, monkeypatch):
    from typer.testing import CliRunner

    from nasoa.zoo import registry

    monkeypatch.setattr(registry, "records", lambda include_user=True: [dict(r) for r in zoo])
    path = tmp_path / "s.sqlite"
    ExperienceStore(path).append_many(synthetic.synthetic_runs(zoo, 4, 5, seed=1))
    runner = CliRunner()
    res = runner.invoke(_cli(), ["meta", "stats", "--json", "--store", str(path)])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["runs"] == 20 and s["tasks"] == 4 and s["schema_version"] >= 2
    res = runner.invoke(_cli(), ["meta", "stats", "--json"], env={"NASOA_STORE": str(path)})
    assert json.loads(res.output)["runs"] == 20
    res = runner.invoke(_cli(), ["meta", "fit", "--store", str(path), "--backend", "lgbm-regressor",
                                 "--online", "none", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["runs"] == 20 and (tmp_path / "s.model" / "metamodel.json").exists()
    res = runner.invoke(_cli(), ["meta", "show", "--store", str(path), "--json", "--top", "5"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["importances"]) == 5
    res = runner.invoke(_cli(), ["meta", "eval", "--store", str(path), "--backend", "lgbm-regressor", "--by", "family"])
    assert res.exit_code == 0, res.output
    assert "one family held out" in res.output and "per decision: regret" in res.output, res.output
    assert res.output.count("[95%: ") == 2, res.output  # the regret's interval, over tasks and over decisions
    assert "grid offers" not in res.output  # every synthetic run lies in the fitted model's grid
    res = runner.invoke(_cli(), ["meta", "eval", "--store", str(path), "--backend", "lgbm-regressor", "--by", "family",
                                 "--lrs", "0.003,0.01,0.03"])
    assert res.exit_code == 0, res.output
    assert "per decision among the runs the grid offers" in res.output and res.output.count("[95%: ") == 3
    assert "grid: lr 0.003,0.01,0.03; input sides profiled" in res.output, res.output
    fam_lines = [ln for ln in res.output.splitlines() if "tasks  regret" in ln]
    assert len(fam_lines) >= 2 and all("per decision" in ln for ln in fam_lines), res.output  # one per family
    res = runner.invoke(_cli(), ["meta", "fit", "--store", str(path), "--backend", "lgbm-regressor",
                                 "--online", "none", "--input-sizes", "16,32"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "s.model" / "metamodel.json").read_text())["grid"]["input_sizes"] == [16, 32]
    res = runner.invoke(_cli(), ["meta", "fit", "--store", str(path), "--backend", "lgbm-regressor",
                                 "--online", "none", "--lrs", "0.01,0.001,0.01"])
    assert res.exit_code == 0, res.output
    grid = json.loads((tmp_path / "s.model" / "metamodel.json").read_text())["grid"]
    assert grid["lrs"] == [0.001, 0.01] and grid["input_sizes"] == [16, 32]  # the sides kept from the last fit
    # A refit without options keeps the grid of the model it replaces (as a refit of the shipped
    # model must keep its lr 0.001); `--input-sizes profiled` goes back to the profiled sides.
    res = runner.invoke(_cli(), ["meta", "fit", "--store", str(path), "--backend", "lgbm-regressor",
                                 "--online", "none", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["grid_kept"] and out["grid"]["lrs"] == [0.001, 0.01] and out["grid"]["input_sizes"] == [16, 32]
    res = runner.invoke(_cli(), ["meta", "fit", "--store", str(path), "--backend", "lgbm-regressor",
                                 "--online", "none", "--input-sizes", "profiled"])
    assert res.exit_code == 0, res.output
    assert "grid: lr 0.001,0.01; input sides profiled (the grid of the model it replaced, with" in res.output
    grid = json.loads((tmp_path / "s.model" / "metamodel.json").read_text())["grid"]
    assert grid["lrs"] == [0.001, 0.01] and "input_sizes" not in grid
    from nasoa.meta.metamodel import MetaModel

    mm = MetaModel.load(path, zoo=zoo)
    recs = mm.recommend(synthetic.synthetic_task_features(7, 0, zoo), 60.0, k=500)  # from the fitted grid
    assert set(recs["lr"].to_list()) == {0.001, 0.01}
    mm.store.close()
    res = runner.invoke(_cli(), ["meta", "fit", "--store", str(path), "--backend", "lgbm-regressor"])  # + blend
    assert res.exit_code == 0, res.output
    assert "input_sizes" not in json.loads((tmp_path / "s.model" / "metamodel.json").read_text())["grid"]
    res = runner.invoke(_cli(), ["meta", "show", "--store", str(path), "--json"])
    online = json.loads(res.output)["online"]
    assert set(online["blend"]["weights"]) == {"lightgbm", "river"} and online["lightgbm"]["rows"] == 20
    res = runner.invoke(_cli(), ["meta", "show", "--store", str(path)])
    assert res.exit_code == 0 and "blend: LightGBM" in res.output and "river: river-arf" in res.output
    res = runner.invoke(_cli(), ["meta", "fit", "--store", str(tmp_path / "none.sqlite")])
    assert res.exit_code == 2 and "no experience store at" in res.output
    assert not (tmp_path / "none.sqlite").exists()
    res = runner.invoke(_cli(), ["meta", "collect", "--runs", "1", "--store", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2


def test_cli_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; import nasoa.cli.meta; "
            "print(sorted(m for m in ('torch', 'lightgbm', 'polars', 'river') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("lr_column", ["lr", "lr_log10"])  # learn frames (feature_columns) keep only lr_log10
def test_most_often_best_baseline_prefers_the_usual_winner(lr_column):
    import polars as pl

    from nasoa.meta.evaluate import summarize, task_metrics

    rows = []
    rng = np.random.default_rng(0)
    for t in range(12):
        for m, lr in (("a", 0.01), ("b", 0.01), ("c", 0.1), ("a", 0.1)):
            base = {"a": 0.8, "b": 0.7, "c": 0.6}[m] + (0.05 if lr == 0.01 else 0.0)
            rows.append({"model_name": m, lr_column: lr if lr_column == "lr" else float(np.log10(lr)),
                         "frozen_stages": 0.0, "schedule": "cosine", "optimizer": "sgd",
                         "task_num_classes": float(rng.integers(2, 10)), "budget_s": float(rng.choice([10, 60])),
                         "y": base + rng.normal(0, 0.01), "group": f"t{t}"})
    frame = pl.DataFrame(rows).with_columns(pl.col("model_name").cast(pl.Categorical))
    p = make_predictor("most-often-best", 0)
    p.learn_many(frame.filter(pl.col("group") != "t11"))
    held = frame.filter(pl.col("group") == "t11")
    pred = p.predict_many(held)
    assert pred[0] > pred[3] > pred[1] > pred[2]  # a@0.01 (always best) first, then by win share and rank
    # learn_one (stored rows, lazy recompute) agrees with learn_many
    q = make_predictor("most-often-best", 0)
    for row in frame.filter(pl.col("group") != "t11").to_dicts():
        y, g = row.pop("y"), row.pop("group")
        q.learn_one(row, y, g)
    assert np.array_equal(q.predict_many(held), pred)
    # an unseen regime backs off to its member's record; an unseen member gets the global prior
    other = p.predict_many(pl.DataFrame([{"model_name": "a", "lr": 0.03, "frozen_stages": 0.0, "schedule": "cosine",
                                          "optimizer": "sgd"}, {"model_name": "zz", "lr": 0.01}]))
    assert other[0] > other[1] > 0
    s = summarize(task_metrics(pred, held))
    assert s["spearman_median"] == s["spearman"] == 1.0 and s["regret"] == 0.0


def test_the_regret_splits_into_the_wrong_member_and_the_right_member_s_wrong_regime():
    """``regret_member``: the task's best run minus the best run of the first-ranked run's member;
    the rest of the regret is that member's own wrong regime."""
    from nasoa.meta.evaluate import summarize, task_metrics

    frame = pl.DataFrame({
        "group": ["t1"] * 3 + ["t2"] * 3,
        "model_name": ["a", "a", "b", "a", "b", "b"],
        "y": [0.70, 0.80, 0.90, 0.95, 0.60, 0.85],
    })
    # t1: ranks a's 0.70 first (best 0.90, b's): regret 0.20, of which the member 0.10 (a's best 0.80).
    # t2: ranks b's 0.60 first (best 0.95, a's): regret 0.35, the member 0.10 (b's best 0.85).
    pred = np.array([3.0, 1.0, 2.0, 0.0, 2.0, 1.0])
    per = task_metrics(pred, frame)
    assert per["regret"].to_list() == pytest.approx([0.20, 0.35])
    assert per["regret_member"].to_list() == pytest.approx([0.10, 0.10])
    s = summarize(per)
    assert s["regret"] == pytest.approx(0.275) and s["regret_member"] == pytest.approx(0.10)
    # The right member ranked first: no member part, whatever its regime costs.
    assert task_metrics(np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]), frame)["regret_member"][0] == 0.0
    # Without a member column there is nothing to split.
    assert summarize(task_metrics(pred, frame.drop("model_name")))["regret_member"] is None


def test_summarize_reports_the_median_spearman_ignoring_nan():
    import polars as pl

    from nasoa.meta.evaluate import summarize

    per_task = pl.DataFrame({"task": list("abcd"), "runs": [5, 5, 5, 2], "spearman": [0.1, 0.2, 0.9, float("nan")],
                             "regret": [0.0, 0.1, 0.2, 0.3], "ndcg3": [1.0, 0.5, 0.5, 1.0], "mae": [0.1] * 4})
    s = summarize(per_task)
    assert s["spearman_median"] == 0.2 and s["spearman"] == 0.4 and s["tasks"] == 4
    assert set(s) >= {"spearman", "regret", "regret_median", "ndcg3", "mae"}  # existing keys stay
    assert summarize(per_task.head(0))["spearman_median"] is None


def test_the_regret_interval_brackets_the_mean_narrows_with_more_tasks_and_is_reproducible():
    """The 95% bootstrap interval of the mean regret: it holds the mean, shrinks about as
    1/sqrt(tasks), is the same on the same values, is a point for equal values and absent below two
    tasks; summarize adds it only when asked (what `meta eval` prints beside each overall regret)."""
    import numpy as np
    import polars as pl

    from nasoa.meta.evaluate import mean_interval, summarize

    rng = np.random.default_rng(3)
    few, many = rng.exponential(0.03, 50), rng.exponential(0.03, 800)
    lo, hi = mean_interval(few)
    assert lo < few.mean() < hi and hi - lo > 0.005
    lo2, hi2 = mean_interval(many)
    assert lo2 < many.mean() < hi2 and 2.5 < (hi - lo) / (hi2 - lo2) < 6.5  # sqrt(16) = 4
    assert mean_interval(few) == [lo, hi] and mean_interval(few, seed=1) != [lo, hi]
    assert mean_interval(np.full(9, 0.02)) == [0.02, 0.02] and mean_interval(np.array([0.1])) is None
    per_task = pl.DataFrame({"task": [str(i) for i in range(50)], "runs": [3] * 50, "spearman": [0.5] * 50,
                             "regret": few, "ndcg3": [1.0] * 50, "mae": [0.1] * 50})
    assert "regret_ci" not in summarize(per_task) and summarize(per_task, interval=True)["regret_ci"] == [lo, hi]


def test_refresh_features_brings_old_tasks_up_to_date(tmp_path):
    """Runs stored by an older version (a dataset name among the features, no k-NN scores) get the
    current features, recomputed from their spec; runs whose data cannot be cut again are kept."""
    from nasoa.app.collect import refresh_features
    from nasoa.core.data import load_task
    from nasoa.meta.features import task_id, task_meta_features
    from nasoa.meta.store import RunRecord

    spec = "builtin:digits?classes=0,1,2&per_class=10&seed=4"
    task = load_task(spec)
    old = {**task_meta_features(task), "task_source": "digits", "logme": {"etnas_z1": -1.0}}
    st = ExperienceStore(tmp_path / "s.sqlite")
    for name in ("etnas_z1", "etnas_z2"):
        st.append(RunRecord(task_id=task_id(task), task_spec=spec, task_features=old, model_name=name,
                            regime={"lr": 0.01}, budget_s=10.0, val_accuracy=0.9))
    st.append(RunRecord(task_id="gone", task_spec="/nowhere/data", task_features=old, model_name="etnas_z1",
                        regime={"lr": 0.01}, budget_s=10.0, val_accuracy=0.5))
    r = refresh_features(st)
    assert r == {"store": str(st.path), "refreshed": 1, "skipped": 1, "runs_updated": 2}
    runs = st.records()
    fresh = runs[0].task_features
    assert "task_source" not in fresh and set(fresh["knn"]) == set(fresh["logme"]) and len(fresh["knn"]) >= 2
    assert all(0.0 <= v <= 1.0 for v in fresh["knn"].values())
    assert runs[1].task_features == fresh and runs[2].task_features["task_source"] == "digits"
    assert refresh_features(st)["refreshed"] == 0  # nothing stale any more


def test_novelty_is_low_near_the_experience_and_high_far_from_it():
    from nasoa.meta.novelty import novelty

    rng = np.random.default_rng(0)

    def feats(n_train, colour, knn):
        return {"task_num_train": float(n_train), "task_num_classes": 5.0, "task_colourfulness": colour,
                "task_pixel_mean": 0.4, "knn": {"a": knn, "b": knn - 0.1}, "logme": {"a": 0.1}}

    experience = [feats(rng.integers(100, 1000), rng.uniform(0, 0.05), rng.uniform(0.7, 0.9)) for _ in range(40)]
    near = novelty(feats(500, 0.02, 0.8), experience)
    far = novelty(feats(500, 0.6, 0.2), experience)
    assert near["score"] < 1.0 < far["score"] and far["tasks"] == 40
    assert novelty(feats(500, 0.6, 0.2), experience[:2])["score"] is None


# ---------------------------------------------------------------------------------------------
# Online learning: every run reaches the next pick, at bounded cost


def test_river_window_bounds_the_replay_and_learn_many_is_the_same_model(tmp_path):
    from nasoa.meta.predictors import RiverPredictor

    frame = checks.synthetic_frame(12, rows_per_task=10, seed=11)  # 120 rows
    test = checks.synthetic_frame(2, seed=11, task_offset=100)
    one = RiverPredictor(0, window=20)
    for row in frame.to_dicts():
        y, g = row.pop("y"), row.pop("group")
        one.learn_one(row, y, g)
        assert len(one._log) < 40  # never more than 2x the window to replay
    many = RiverPredictor(0, window=20)
    many.learn_many(frame.head(7))
    many.learn_many(frame.tail(frame.height - 7))
    assert len(one._log) == len(many._log) == 20 and one.rebuilds == many.rebuilds == 5
    assert np.array_equal(one.predict_many(test), many.predict_many(test))  # the same model, fewer replays
    one.save(tmp_path / "r")
    assert np.array_equal(load_predictor(tmp_path / "r").predict_many(test), one.predict_many(test))


def test_lightgbm_warm_updates_every_few_rows_and_defers_a_large_refit(tmp_path):
    from nasoa.meta.predictors import LGBMPredictor

    p = LGBMPredictor(seed=0, n_rounds=20, warm_every=4, warm_rounds=3, max_warm_trees=9, inline_refit_rows=60, bags=1)
    p.learn_many(checks.synthetic_frame(5, rows_per_task=10, seed=12))  # 50 rows: a full fit
    assert p.n_fits == 1 and p.state()["trees"] == 20
    stream = checks.synthetic_frame(3, rows_per_task=10, seed=12, task_offset=50).to_dicts()
    test = checks.synthetic_frame(1, seed=12, task_offset=99)
    before = p.predict_many(test)
    for row in stream[:4]:
        y, g = row.pop("y"), row.pop("group")
        p.learn_one(row, y, g)
    assert p.n_warm == 1 and p.state()["trees"] == 23 and not np.array_equal(p.predict_many(test), before)
    for row in stream[4:13]:  # two more warm updates reach max_warm_trees: at the next row a refit (63 rows > 60)
        # is due
        y, g = row.pop("y"), row.pop("group")
        p.learn_one(row, y, g)
    assert p.n_fits == 1 and p.refit_due and p.warm_trees == 9
    p.save(tmp_path / "p")
    q = load_predictor(tmp_path / "p")
    assert q._table is None and q.refit_due  # the rows of the last fit are not read to load
    assert np.array_equal(q.predict_many(test), p.predict_many(test))
    q.refit()
    assert q.n_fits == 2 and not q.refit_due and q.state()["trees"] == 20 and q.n_rows == 63


def test_blend_weight_is_the_least_squares_weight_of_the_measured_residuals(tmp_path):
    from nasoa.meta.predictors import CombinedPredictor

    p = CombinedPredictor(0, err_window=4)
    assert p.weight == 0.5 and p.mse is None  # nothing measured yet
    for rb, rr in ((0.1, 0.3), (-0.1, -0.2), (0.0, 0.1), (0.05, 0.25), (0.2, 0.2)):
        p._errors.append((rb, rr))
    a = np.array(list(p._errors))
    d = a[:, 1] - a[:, 0]
    assert p.weight == pytest.approx(np.clip((a[:, 1] * d).sum() / (d * d).sum(), 0, 1)) and len(a) == 4
    p.learn_many(checks.synthetic_frame(10, seed=13))  # a bulk start measures errors on its latest tasks
    s = p.state()["blend"]
    assert s["scored_rows"] == 4 and s["scored_total"] == 12 and s["mse"]["lightgbm"] > 0  # one held-out task
    p.save(tmp_path / "c")
    q = load_predictor(tmp_path / "c")
    assert q.state() == p.state()


def test_learn_one_row_by_row_and_learn_many_reach_comparable_rankings():
    from nasoa.meta.metrics import spearman, within_task_spearman
    from nasoa.meta.predictors import CombinedPredictor

    bulk = checks.synthetic_frame(15, seed=14)
    stream = checks.synthetic_frame(15, seed=14, task_offset=50)
    test = checks.synthetic_frame(6, seed=14, task_offset=100)
    one, many = CombinedPredictor(0), CombinedPredictor(0)
    for p in (one, many):
        p.learn_many(bulk)
    for row in stream.to_dicts():
        y, g = row.pop("y"), row.pop("group")
        one.learn_one(row, y, g)
    many.learn_many(stream)
    assert one.n_seen == many.n_seen == 360 and one.base.n_rows == many.base.n_rows
    a, b = one.predict_many(test), many.predict_many(test)
    ra, rb = within_task_spearman(a, test), within_task_spearman(b, test)
    assert ra > 0.7 and rb > 0.7 and abs(ra - rb) < 0.1, (ra, rb)
    assert spearman(a, b) > 0.9


def _two_member_world(tmp_path, n_tasks=8):
    from nasoa.meta.metamodel import MetaModel

    zoo = synthetic.synthetic_zoo(2)  # synth-01: the better source accuracy, preferred by the prior
    st = ExperienceStore(tmp_path / "experience.sqlite")
    st.append_many(synthetic.synthetic_runs(zoo, n_tasks, 10, seed=0, budgets=(60.0,)))
    return zoo, st, MetaModel


def _picks(mm, zoo, tasks=range(500, 508)):
    return [mm.recommend(synthetic.synthetic_task_features(t, 0, zoo), 60.0, k=1)["model_name"][0] for t in tasks]


def test_learned_runs_where_the_preferred_member_always_loses_switch_the_pick(tmp_path):
    zoo, st, MetaModel = _two_member_world(tmp_path)
    mm = MetaModel.fit(st, zoo=zoo, backend="lgbm-regressor")
    assert _picks(mm, zoo) == ["synth-01"] * 8
    w0 = mm.predictor.weight
    weights = []
    for r in synthetic.synthetic_runs(zoo, 18, 6, seed=1, budgets=(60.0,), task_offset=100):
        if r.model_name == "synth-01":
            r.val_accuracy -= 0.25  # the world changed: it now loses on every task, in every regime
        mm.learn(r)
        weights.append(mm.predictor.weight)
    after = _picks(mm, zoo)
    assert after.count("synth-00") >= 7, after
    # LightGBM carries the blend at the start (the weights are judged on its accuracy level, without
    # the within-task part); river learns the change first and the measured errors hand it weight;
    # LightGBM catches up (warm updates of both its parts, and recent runs weigh more in its ranker).
    assert w0 > 0.6, w0
    assert min(weights) < 0.5, (w0, min(weights))
    assert weights[-1] > min(weights) + 0.2, (min(weights), weights[-1])
    assert mm.predictor.base.n_fits > 1 and mm.last_run_id == st.count()


def test_predict_and_recommend_change_no_state(tmp_path):
    zoo, st, MetaModel = _two_member_world(tmp_path, n_tasks=4)
    mm = MetaModel.load(st, zoo=zoo)
    for r in synthetic.synthetic_runs(zoo, 1, 12, seed=3, budgets=(60.0,), task_offset=200):
        mm.learn(r)  # pending warm rows, a scored blend: state that a query could disturb

    def files(d):
        return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}

    mm.predictor.save(tmp_path / "before")
    task = synthetic.synthetic_task_features(600, 0, zoo)
    n, last = st.count(), mm.last_run_id
    for _ in range(2):
        mm.recommend(task, 60.0, k=3)
        mm.predict(task, mm.candidates(task, 60.0).head(20))
    mm.predictor.save(tmp_path / "after")
    assert files(tmp_path / "before") == files(tmp_path / "after")
    assert st.count() == n and mm.last_run_id == last


def test_a_reload_ranks_like_the_process_that_learned_without_replaying_the_store(tmp_path, monkeypatch):
    from nasoa.meta.predictors import CombinedPredictor

    zoo, st, MetaModel = _two_member_world(tmp_path)
    mm = MetaModel.load(st, zoo=zoo)  # fits and writes the snapshot beside the store
    for r in synthetic.synthetic_runs(zoo, 2, 12, seed=4, budgets=(60.0,), task_offset=300):
        mm.learn(r)  # each run: learned, then the snapshot saved
    task = synthetic.synthetic_task_features(700, 0, zoo)
    want = mm.recommend(task, 60.0, k=10)

    def refuse(*a, **k):
        raise AssertionError("a load with a current snapshot learned a row")

    monkeypatch.setattr(CombinedPredictor, "learn_one", refuse)
    monkeypatch.setattr(CombinedPredictor, "learn_many", refuse)
    again = MetaModel.load(st, zoo=zoo)
    assert again.recommend(task, 60.0, k=10).equals(want)
    assert again.last_run_id == st.count() == 104 and again.predictor.n_seen == 104
    assert len(again.predictor.online._log) < 2 * again.predictor.online.window
    assert len(list(st.path.with_name("experience.model").glob("predictor*"))) <= 2  # old snapshots removed


def test_bench_meta_reports_load_rank_and_learn():
    from nasoa.bench.meta import bench_meta, to_markdown

    r = bench_meta(runs=120, candidates=160, repeats=3, import_repeats=0)
    assert r["candidates"] >= 160 and r["runs"] == 120
    for key in ("load", "load_backlog", "rank", "learn"):
        assert r[key]["median_ms"] > 0 and r[key]["cpu_median_ms"] >= 0 and r[key]["n"] == 3
    assert r["online_state"]["rows"] == 120 + 25 + 3
    assert "| 120 |" in to_markdown([r], "nasoa bench meta --runs 120")


def test_cli_bench_meta_writes_its_table(tmp_path):
    from typer.testing import CliRunner

    from nasoa.cli import bench

    res = CliRunner().invoke(bench.app, ["meta", "--runs", "100", "--candidates", "100", "--repeats", "3",
                                         "--import-repeats", "0", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "meta.json").read_text())
    assert doc["results"][0]["runs"] == 100 and "| 100 |" in (tmp_path / "meta.md").read_text()


def test_a_format_1_snapshot_is_upgraded_once_on_load(tmp_path):
    """The shipped model (format 1: river replaying every run, fixed prior errors) is saved again in
    the current format at its first load, so later loads replay at most river's window."""
    from nasoa.app import adapt as A
    from nasoa.meta.metamodel import MetaModel, default_model_dir

    doc = json.loads((A.shipped_model() / "metamodel.json").read_text())
    if not A.shipped_experience().is_file() or "predictor" in doc:
        pytest.skip("no format-1 shipped model in this checkout")
    st = A.open_store(tmp_path / "fresh.sqlite")
    first = MetaModel.load(st, zoo=profiled_records())
    w = first.predictor.online.window
    assert first.predictor.upgraded and len(first.predictor.online._log) < 2 * w
    assert first.predictor.base.warm_every == 10  # the online policy applies from here on
    doc = json.loads((default_model_dir(st.path) / "metamodel.json").read_text())
    assert doc["predictor"].startswith("predictor-")
    again = MetaModel.load(st, zoo=profiled_records())
    assert not again.predictor.upgraded and again.predictor.online._log == first.predictor.online._log
    task = json.loads(st.runs()["task_features"][0])
    assert again.recommend(task, 60, k=5).equals(first.recommend(task, 60, k=5))


def test_a_snapshot_that_learned_retired_features_is_refitted_on_load(tmp_path, zoo):
    """A model saved before format 2 learned the budget's seconds and the step time, which rows no
    longer carry: loading it would read them as missing, so its store is fitted afresh (and saved)."""
    from nasoa.meta.metamodel import MODEL_FORMAT_VERSION, MetaModel, default_model_dir

    st = ExperienceStore(tmp_path / "s.sqlite")
    st.append_many(synthetic.synthetic_runs(zoo, 8, 6, seed=3))
    grid = Grid(lrs=(0.01, 0.1))
    mm = MetaModel.fit(st, zoo=zoo, backend="lgbm-regressor", grid=grid, seed=4)
    mm.save(default_model_dir(st.path))
    meta = default_model_dir(st.path) / "metamodel.json"
    doc = json.loads(meta.read_text())
    assert doc["format_version"] == MODEL_FORMAT_VERSION == 2
    same = MetaModel.load(st, zoo=zoo)
    assert json.loads(meta.read_text())["predictor"] == doc["predictor"]  # current: loaded as it is
    meta.write_text(json.dumps(doc | {"format_version": 1}))
    again = MetaModel.load(st, zoo=zoo)
    now = json.loads(meta.read_text())
    assert now["format_version"] == 2 and now["predictor"] != doc["predictor"]  # refitted and saved
    assert (again.backend, again.grid, again.seed) == (mm.backend, grid, 4)  # as it was made
    meta.write_text(json.dumps(now | {"format_version": "two"}))  # unreadable: refitted, no traceback
    MetaModel.load(st, zoo=zoo)
    assert json.loads(meta.read_text())["format_version"] == 2
    task = json.loads(st.runs()["task_features"][0])
    a, b = again.recommend(task, 60, k=5), same.recommend(task, 60, k=5)  # the same fit as before
    shown = ("score", "predicted_accuracy", "uncertainty")
    assert a.drop(*shown).equals(b.drop(*shown))
    assert np.allclose(a["score"].to_numpy(), b["score"].to_numpy(), rtol=0, atol=1e-9)


def _level_and_rank_world(seed):
    """Tasks whose accuracy level varies widely (unpredictably: the task feature is unrelated to it)
    and whose runs differ within the task by a small, consistent effect of the learning rate (best
    at lr 1e-2)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    rows = []
    for t in range(60):
        level, unrelated = rng.uniform(0.2, 0.9), rng.uniform()
        for lr in (-4.0, -3.0, -2.0, -1.0):
            rows.append({"task_unrelated": unrelated, "lr_log10": lr,
                         "y": level - 0.03 * abs(lr + 2.0) + rng.normal(0, 0.01), "group": f"t{seed}-{t}"})
    return pl.DataFrame(rows)


def test_the_boosters_grow_with_the_rows_and_keep_their_size_through_a_reload(tmp_path):
    """``capacity="auto"``: the small boosters on a few hundred rows (larger ones fit noise there),
    the large ones from LARGE_FROM_ROWS rows on; warm updates and a reload keep the size of the last
    full fit, and explicit settings override it."""
    import polars as pl

    from nasoa.meta.predictors import LGBMPredictor

    small_world = _level_and_rank_world(0)  # 240 rows
    big_world = pl.concat([_level_and_rank_world(s) for s in range(5)])  # 1,200 rows
    sizes = {}
    for name, world in (("small", small_world), ("big", big_world)):
        p = LGBMPredictor(seed=0, bags=1, relative_weight=0.0)
        p.learn_many(world)
        sizes[name] = (p.state()["capacity"], p.state()["trees"], p._lgb_params(world.height, p._schema)["max_bin"])
        p.save(tmp_path / name)
        again = LGBMPredictor.load(tmp_path / name)
        assert again.state()["capacity"] == p.state()["capacity"] and again.n_rounds == p.n_rounds
        test = _level_and_rank_world(9).drop("y", "group")
        assert np.allclose(again.predict_many(test), p.predict_many(test))
    small, large = LGBMPredictor.CAPACITY["small"], LGBMPredictor.CAPACITY["large"]
    assert sizes["small"] == ("small", small["n_rounds"], small["max_bin"])
    assert sizes["big"] == ("large", large["n_rounds"], large["max_bin"])
    assert LGBMPredictor.LARGE_FROM_ROWS <= big_world.height
    forced = LGBMPredictor(seed=0, bags=1, capacity="large", n_rounds=40, relative_weight=0.0)
    forced.learn_many(small_world)
    assert forced.state()["capacity"] == "large" and forced.state()["trees"] == 40
    assert forced.num_leaves == large["num_leaves"]
    with pytest.raises(NasoaError, match="unknown capacity"):
        LGBMPredictor(capacity="huge")


@pytest.mark.parametrize("relative", ["lambdarank", "percentile"])
def test_the_within_task_part_ranks_runs_within_a_task_and_survives_a_reload(tmp_path, relative):
    from nasoa.meta.evaluate import task_metrics
    from nasoa.meta.predictors import LGBMPredictor

    train, test = _level_and_rank_world(0), _level_and_rank_world(1)
    scores, parts = {}, {}
    for w in (0.0, 0.5):
        p = LGBMPredictor(seed=0, relative_weight=w, relative=relative)
        p.learn_many(train)
        pred = p.predict_many(test.drop("y", "group"))
        scores[w] = float(task_metrics(pred, test)["spearman"].mean())
        parts[w] = pred
        if w:
            assert p.state()["relative_trees"] > 0
            p.save(tmp_path / relative)
            again = LGBMPredictor.load(tmp_path / relative)
            assert again.relative == relative
            assert np.allclose(again.predict_many(test.drop("y", "group")), pred)
    # The within-task part ranks the lr effect correctly and does not disturb the main booster's
    # ranking; its spread within a task follows the data's (weight 0.5 x the within-task standard
    # deviation of accuracy, about 0.02 here: 0.01), whatever unit the part's own scores have.
    assert scores[0.5] >= max(0.8, scores[0.0] - 0.02), scores
    g = test["group"].to_numpy()
    added = parts[0.5] - parts[0.0]
    spread = float(np.median([added[g == k].std() for k in np.unique(g)]))
    assert 0.004 < spread < 0.025, spread


def test_a_bag_predicts_the_mean_of_its_members_and_keeps_them_through_warm_updates_and_a_reload(tmp_path):
    """``bags=K``: K boosters of seeds seed..seed+K-1 on the same rows, each with its own
    within-task part; the prediction is their mean (both parts), warm updates continue every member
    and a reload keeps them all."""
    from nasoa.meta.predictors import LGBMPredictor

    train, test = _level_and_rank_world(0), _level_and_rank_world(1)
    x = test.drop("y", "group")
    kw = {"n_rounds": 30, "relative_rounds": 30, "warm_every": 8, "warm_rounds": 3}
    bag = LGBMPredictor(seed=4, bags=3, **kw)
    bag.learn_many(train)
    members = []
    for s in (4, 5, 6):
        m = LGBMPredictor(seed=s, bags=1, **kw)
        m.learn_many(train)
        members.append(m.predict_parts(x))
    level, within = bag.predict_parts(x)
    assert np.allclose(level, np.mean([m[0] for m in members], axis=0))
    assert np.allclose(within, np.mean([m[1] for m in members], axis=0))
    assert not np.allclose(members[0][0], members[1][0])  # the members differ: averaging them is not a no-op
    # the accuracy shown is the level: the within-task part ranks, it does not add accuracy
    assert np.allclose(bag.predict_accuracy_many(x), level) and not np.allclose(bag.predict_many(x), level)
    assert bag.state()["bags"] == 3 and bag.state()["trees"] == 90
    for row in _level_and_rank_world(2).head(8).to_dicts():  # one warm update: 3 trees more per member
        y, g = row.pop("y"), row.pop("group")
        bag.learn_one(row, y, g)
    assert bag.n_warm == 1 and bag.state()["trees"] == 99
    assert bag.state()["relative_trees"] == 99
    again = LGBMPredictor.load(bag.save(tmp_path / "bag"))
    assert again.bags == 3 and len(again._boosters) == 3
    assert np.array_equal(again.predict_many(x), bag.predict_many(x))
    with pytest.raises(NasoaError, match="bags"):
        LGBMPredictor(bags=0)


def test_the_pairwise_part_reranks_the_first_rows_of_each_task_and_survives_a_reload(tmp_path):
    """The pairwise booster learns which of two runs of a task won; it is fitted at the large
    capacity only, scores a row against the other first-ranked rows of its group, leaves the rows
    below them in their order, and a reload keeps it."""
    import polars as pl

    from nasoa.meta.evaluate import task_metrics
    from nasoa.meta.predictors import LGBMPredictor

    train = pl.concat([_level_and_rank_world(s) for s in range(5)])  # 1,200 rows: the large capacity
    test = _level_and_rank_world(7)
    kw = {"bags": 1, "n_rounds": 40, "relative_weight": 0.0, "pairwise_rounds": 60}
    p = LGBMPredictor(seed=0, **kw)
    p.learn_many(train)
    assert p.state()["pairwise_trees"] == 60
    level, within = p.predict_parts(test)
    assert np.allclose(level, p.predict_accuracy_many(test))  # the pairwise part ranks; it adds no accuracy
    # alone, it finds the best learning rate (1e-2) of every task: a near-perfect within-task order
    rank = task_metrics(within, test)
    assert rank["spearman"].mean() > 0.8 and rank["regret"].mean() < 0.005, rank.describe()
    # its scores are antisymmetric margins: they sum to zero within a group, and lie in [-w/2, w/2]
    g = test["group"].to_numpy()
    assert all(abs(within[g == k].sum()) < 1e-9 for k in np.unique(g))
    assert np.abs(within).max() <= 0.5 * p.pairwise_weight
    # a task's rows at two budgets are two decisions, each scored on its own
    two = pl.concat([test.with_columns(pl.lit(b).alias("budget_s")) for b in (8.0, 15.0)])
    assert np.allclose(p.predict_parts(two)[1], np.tile(within, 2), rtol=0, atol=1e-12)
    # a row's score depends on the rows of its group: one row alone gets none
    assert p.predict_parts(test.head(1))[1][0] == 0.0
    again = LGBMPredictor.load(p.save(tmp_path / "pairwise"))
    assert again.pairwise_weight == p.pairwise_weight and again.state()["pairwise_trees"] == 60
    assert np.array_equal(again.predict_many(test), p.predict_many(test))
    # only the first pairwise_top rows of a group are reranked; those below keep their order under them
    top2 = LGBMPredictor(seed=0, pairwise_top=2, **kw)
    top2.learn_many(train)
    lvl, part = top2.predict_parts(test)
    for k in np.unique(g):
        rows = np.flatnonzero(g == k)
        order = rows[np.argsort(-lvl[rows], kind="stable")]
        first, rest = order[:2], order[2:]
        assert np.all(part[rest] == part[first].min())
        assert (lvl + part)[first].min() >= (lvl + part)[rest].max()
    # a full refit inside a learn keeps the costly booster (its columns unchanged) and marks a refit
    # due; refit(), outside a budget, fits it anew on every row
    booster = p._pairwise
    p.learn_many(pl.concat([_level_and_rank_world(s) for s in (5, 6)]))  # 1,680 >= 1.25 x 1,200: a full refit
    assert p.n_fits == 2 and p._pairwise is booster and p.refit_due
    p.refit()
    assert p.n_fits == 3 and p._pairwise is not booster and not p.refit_due
    assert p.state()["pairwise_trees"] == 60
    # not fitted: at the small capacity (a few hundred rows), at weight 0, or for the ranker objective
    for learner, rows in ((LGBMPredictor(seed=0, **kw), _level_and_rank_world(0)),
                          (LGBMPredictor(seed=0, **{**kw, "pairwise_weight": 0.0}), train),
                          (LGBMPredictor(objective="lambdarank", seed=0, **kw), train)):
        learner.learn_many(rows)
        assert learner.state()["pairwise_trees"] == 0 and not learner.predict_parts(test)[1].any()
    with pytest.raises(NasoaError, match="pairwise_weight"):
        LGBMPredictor(pairwise_weight=5.0)


def test_a_model_saved_before_the_pairwise_part_loads_without_one(tmp_path):
    import json

    import polars as pl

    from nasoa.meta.predictors import LGBMPredictor

    p = LGBMPredictor(seed=0, bags=1, n_rounds=20, relative_weight=0.0, pairwise_weight=0.0)
    p.learn_many(pl.concat([_level_and_rank_world(s) for s in range(5)]))
    d = p.save(tmp_path / "old")
    manifest = json.loads((d / "manifest.json").read_text())
    for key in ("pairwise_weight", "pairwise_rounds", "pairwise_top"):
        del manifest["params"][key]
    (d / "manifest.json").write_text(json.dumps(manifest))
    again = LGBMPredictor.load(d)
    assert again.pairwise_weight == 0.0 and again.state()["pairwise_trees"] == 0
    test = _level_and_rank_world(7)
    assert np.array_equal(again.predict_many(test), p.predict_many(test))


def test_a_percentile_model_saved_before_the_ranker_part_loads_as_one(tmp_path):
    """Models saved before ``relative`` existed carry a percentile booster: they must load as such."""
    import json

    from nasoa.meta.predictors import LGBMPredictor

    train, test = _level_and_rank_world(0), _level_and_rank_world(1)
    p = LGBMPredictor(seed=0, relative_weight=0.5, relative="percentile", bags=1)
    p.learn_many(train)
    pred = p.predict_many(test.drop("y", "group"))
    d = p.save(tmp_path / "old")
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["params"]["relative"], manifest["params"]["bags"]
    st = manifest["state"]  # and before bagging: one member's scale, no centre
    st["relative_scale"] = st.pop("relative_scales")[0]
    del st["relative_centers"]
    (d / "manifest.json").write_text(json.dumps(manifest))
    again = LGBMPredictor.load(d)
    assert again.relative == "percentile"
    assert np.allclose(again.predict_many(test.drop("y", "group")), pred)


@pytest.mark.parametrize("online,expected", [("blend", "combo-blend:lgbm-regressor"), (None, "lgbm-ranker")])
def test_an_online_combination_keeps_the_regressor_when_the_ranker_wins(filled_store, zoo, monkeypatch, online,
                                                                          expected):
    """The blend weighs its parts by their accuracy errors: a ranker's scores would hand it to river."""
    import nasoa.meta.metamodel as mmod

    monkeypatch.setattr(mmod, "select_backend", lambda *a, **k: ("lgbm-ranker", {"lgbm-ranker": {}, "lgbm-regressor": {}}))
    fitted = mmod.MetaModel.fit(filled_store, zoo=zoo, backend="auto", online=online)
    assert fitted.backend == expected
    assert ("kept" in fitted.selection) == (online is not None)


def _prior_frame(rows):
    """Training rows (member, frozen, lr, optimizer, y, task) for the regime prior."""
    return pl.DataFrame([{"model_name": m, "frozen_stages": f, "lr_log10": lr, "optimizer": "sgd", "task_num_classes": 4.0,
                          "y": y, "group": g} for m, f, lr, y, g in rows])


def test_the_regime_prior_leaves_a_row_s_own_task_out_and_ignores_tiny_tasks():
    from nasoa.meta.predictors.regime_prior import PRIOR_RUNS, RegimePrior

    rows = []
    for t, risky in enumerate((0.2, 0.9, 0.25)):  # "a" at lr 0.1 fails (below 0.25 + 0.15 * 0.75) on tasks 0 and 2
        rows += [("a", 0, -1.0, risky, f"t{t}"), ("a", 0, -2.0, 0.8, f"t{t}"), ("b", 1, -2.0, 0.6, f"t{t}")]
    rows += [("a", 0, -1.0, 0.0, "small"), ("b", 1, -2.0, 0.9, "small")]  # two runs: no standing, left out
    frame = _prior_frame(rows)
    prior = RegimePrior.fit(frame)
    best = {0: 0.8, 1: 0.9, 2: 0.8}
    rel_a = [(0.2, 0), (0.9, 1), (0.25, 2)]
    rels = [y - best[t] for y, t in rel_a] + [0.8 - best[t] for t in range(3)] + [0.6 - best[t] for t in range(3)]
    assert prior.mean_rel == pytest.approx(np.mean(rels)) and prior.mean_fail == pytest.approx(2 / 9)
    assert "small" not in prior.parts["a|0|-2|sgd"]
    out = prior.add(frame, leave_own_task_out=True)
    # Task 1's risky run sees tasks 0 and 2 only: both failed, 0.6 and 0.55 below their best.
    i = 3  # ("a", 0, -1.0, 0.9, "t1")
    want_rel = ((0.2 - 0.8) + (0.25 - 0.8) + PRIOR_RUNS * prior.mean_rel) / (2 + PRIOR_RUNS)
    want_fail = (2 + PRIOR_RUNS * prior.mean_fail) / (2 + PRIOR_RUNS)
    assert out["cell_rel"][i] == pytest.approx(want_rel) and out["cell_fail"][i] == pytest.approx(want_fail)
    # A row to predict sees every task; the cell that always failed ranks below the one that never did.
    new = prior.add(frame.drop("y", "group").head(3), leave_own_task_out=False)
    assert new["cell_fail"][0] > new["cell_fail"][1] and new["cell_rel"][0] < new["cell_rel"][1]
    # A cell nobody ran gets the shrunk overall means; rows without a regime's columns pass unchanged.
    unseen = prior.add(_prior_frame([("c", 0, -3.0, 0.5, "t9")]), leave_own_task_out=True)
    assert unseen["cell_rel"][0] == pytest.approx(prior.mean_rel)
    assert prior.add(pl.DataFrame({"x": [1.0]}), leave_own_task_out=False).columns == ["x"]
    again = RegimePrior.from_dict(json.loads(json.dumps(prior.to_dict())))
    assert again.add(frame, leave_own_task_out=True).equals(out)


def test_lightgbm_learns_the_regime_prior_monotone_and_saves_it(tmp_path):
    from nasoa.meta.predictors import LGBMPredictor

    rng = np.random.default_rng(0)
    rows = []
    for t in range(30):
        for lr in (-3.0, -2.0, -1.0):
            for m in ("a", "b"):
                y = 0.1 if (lr == -1.0 and m == "a" and rng.random() < 0.6) else 0.7 + 0.1 * rng.random()
                rows.append((m, 0, lr, y, f"t{t}"))
    frame = _prior_frame(rows).with_columns(task_pixel_mean=pl.Series(rng.random(len(rows))))
    p = LGBMPredictor(seed=0)
    p.learn_many(frame)
    imp = p.feature_importances()
    assert {"cell_rel", "cell_fail"} <= set(imp)
    params = p._lgb_params(100, p._schema)
    cons = dict(zip(p._schema.names, params["monotone_constraints"]))
    assert cons["cell_rel"] == 1 and cons["cell_fail"] == -1
    test = frame.drop("y", "group").head(6)
    pred = p.predict_many(test)
    p.save(tmp_path / "p")
    assert np.allclose(LGBMPredictor.load(tmp_path / "p").predict_many(test), pred)
    # The risky cell ("a" at lr 0.1) is predicted below the safe ones on a new task.
    by = {(r["model_name"], r["lr_log10"]): v for r, v in zip(test.to_dicts(), pred)}
    assert by[("a", -1.0)] < min(by[("a", -2.0)], by[("b", -1.0)])
    plain = LGBMPredictor(seed=0, regime_prior=False)
    plain.learn_many(frame)
    assert "cell_rel" not in plain.feature_importances()
