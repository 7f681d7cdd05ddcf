"""``MetaModel``: what users query. Which member and regime will do best on this task in this budget?

    from nasoa.meta import MetaModel
    from nasoa.zoo import profiled_records
    mm = MetaModel.load(zoo=profiled_records())   # the default store (and its fitted model, if saved)
    top = mm.recommend(task, budget_s=60, k=5)     # polars frame, best first
    mm.learn(record)                               # after the run: one more experience

``task`` is a :class:`nasoa.core.data.TaskData` (meta-features computed and cached in the store; LogME
when a ``feature_extractor`` is given, e.g. :func:`nasoa.app.collect.penultimate_features`) or a dict
of task features (``task_*`` keys and optionally ``logme``).

Online use (``combo-blend``, the default): every run reaches the model that ranks the next task.
:meth:`MetaModel.learn` appends the run, learns every run after the last one this model saw (in
row order, so concurrent processes agree) and saves the snapshot beside the store; a process that
starts later loads that snapshot and learns only the runs appended after it (:meth:`catch_up`), so
loading does not grow with the store. Inside the blend, LightGBM continues boosting a few trees on
the recent rows every 10 runs and refits on every row when the data grew by a quarter (at once up
to 5,000 rows, else left for :meth:`refit_if_due` outside a user's budget); a river forest learns
every run over a bounded window; their weights follow their measured prequential errors
(:class:`nasoa.meta.predictors.CombinedPredictor`; ``nasoa meta show`` prints them). A
recommendation scores every candidate with the booster in one call and lets the blend re-rank the
top ``rescore_top``.

Why the blend: in the prequential comparison (:func:`nasoa.meta.evaluate.prequential`;
``bench/results/meta-online-20261201/prequential.py``) it ranks as well as LightGBM alone with warm
starts (top-1 regret / within-task Spearman / NDCG@3: 0.0106 / 0.869 / 0.966 vs 0.0101 / 0.866 /
0.964 on 60 synthetic tasks, mean of 5 seeds; 0.0249 / 0.497 / 0.922 vs 0.0232 / 0.523 / 0.913 on
the shipped experience; river alone 0.060 / 0.43 / 0.80 and 0.047 / 0.26 / 0.84), and it reacts
fast when the world changes: river learns every run at once and the measured errors hand it the
weight while LightGBM catches up (``tests/test_meta.py``: a member that starts to lose on every
task stops being picked within about 100 runs). ``nasoa meta eval --online`` repeats the
comparison on a store; ``online=`` in :meth:`MetaModel.fit` (``nasoa meta fit --online``) switches.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import atomic_write_json, utc_now

from .candidates import REGIME_COLUMNS, Grid, candidate_regime, enumerate_candidates, offered
from .descriptors import MemberTable, machine_factor
from .evaluate import (OFFERED, decision_key, leave_families_out, leave_tasks_out, plot_predicted_vs_actual,
                       prequential, regret_floor, select_backend)
from .features import (TimeModel, _base_row, cached_task_features, derive, feature_columns, save_task_features,
                       training_frame)
from .novelty import novelty
from .predictors import BACKENDS, CombinedPredictor, Predictor, load_predictor, make_predictor, saved_lgbm_params
from .store import ExperienceStore, RunRecord
from .timing import calibrated_zoo

if TYPE_CHECKING:
    import polars as pl

__all__ = ["MetaModel", "default_model_dir", "saved_grid", "snapshot_is_current", "split_backend", "DEFAULT_ONLINE"]

# Chosen by the prequential comparison in the module docstring.
DEFAULT_ONLINE = "blend"
MODEL_FORMAT = "nasoa.meta.metamodel"
# 2: the predictor no longer learns from the budget's seconds and the step time (nasoa.meta.features.
# BUDGET_FEATURES). A snapshot of an older version learned features that are no longer given (it
# would read them as missing), so :meth:`MetaModel.load` refits its store instead of loading it.
MODEL_FORMAT_VERSION = 2
# A backlog of more new runs than this is learned in one update (``learn_many``) rather than run by run.
CATCH_UP_BULK = 25

FeatureExtractor = Callable[[Any, str], tuple[np.ndarray, np.ndarray]]


def default_model_dir(store_path: str | Path) -> Path:
    """Where a store's fitted model lives: ``experience.sqlite`` -> ``experience.model/``."""
    p = Path(store_path)
    return p.with_name(p.stem + ".model")


def saved_grid(model_dir: str | Path) -> Grid | None:
    """The regime grid of the meta-model saved in ``model_dir``; None where none is saved or it
    cannot be read (a refit then falls back to the default grid)."""
    try:
        return Grid.from_dict(json.loads((Path(model_dir) / "metamodel.json").read_text())["grid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def snapshot_is_current(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds a saved meta-model of this version's format (one of an older
    format is refitted rather than loaded, :data:`MODEL_FORMAT_VERSION`) whose LightGBM part has
    this version's parts: boosters sized by their rows (``LGBMPredictor.CAPACITY``) and the pairwise
    part's settings. One saved before either loads and learns as it was made (smaller boosters, no
    pairwise part), and `nasoa meta upgrade` refits it."""
    try:
        doc = json.loads((Path(model_dir) / "metamodel.json").read_text())
        if not (doc.get("format") == MODEL_FORMAT and _current_format(doc)):
            return False
        params = saved_lgbm_params(Path(model_dir) / str(doc["predictor"]))
        # no LightGBM part, or one with this version's parts
        return params is None or ("capacity" in params and "pairwise_weight" in params)
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return False


def _current_format(doc: Mapping[str, Any]) -> bool:
    """A saved model's manifest is of this version's format (older ones, and one whose version is
    unreadable, are refitted, not loaded)."""
    try:
        return int(doc.get("format_version", 1)) >= MODEL_FORMAT_VERSION
    except (TypeError, ValueError):
        return False


def split_backend(name: str) -> tuple[str, str | None]:
    """A saved model's back-end name as (back-end, online combination):
    ``combo-blend:lgbm-regressor`` -> (``lgbm-regressor``, ``blend``); ``lgbm-ranker`` -> (``lgbm-ranker``, None)."""
    if name.startswith("combo-") and ":" in name:
        online, base = name[len("combo-"):].split(":", 1)
        return base, online
    return name, None


def _open_store(store: ExperienceStore | str | Path | None) -> ExperienceStore:
    return store if isinstance(store, ExperienceStore) else ExperienceStore(store)


class MetaModel:
    """A predictor of fine-tuning accuracy plus the zoo, the regime grid and the time model.

    ``zoo``: the member records to rank (the application passes ``nasoa.zoo.profiled_records()``;
    tests and benchmarks pass synthetic ones): the meta-model is told its members, it does not
    fetch the zoo."""

    def __init__(self, predictor: Predictor | None = None, *, zoo: Sequence[Mapping[str, Any]],
                 store: ExperienceStore | None = None, grid: Grid | None = None, time_model: TimeModel | None = None,
                 backend: str = "lgbm-regressor", seed: int = 0, rescore_top: int = 64,
                 feature_extractor: FeatureExtractor | None = None):
        self.records, self.calibration = calibrated_zoo(store, zoo)
        self.members = MemberTable(self.records)
        self.store = store
        self.grid = grid or Grid()
        self.time_model = time_model if time_model is not None else TimeModel(machine_factor=machine_factor())
        self.backend = backend
        self.seed = int(seed)
        self.predictor = predictor if predictor is not None else make_predictor(backend, seed)
        self.rescore_top = int(rescore_top)
        self.feature_extractor = feature_extractor
        self.last_run_id = 0
        self.selection: dict[str, Any] = {}
        # Where this model's snapshot lives when it is the store's own (loaded or fitted by ``load``):
        # ``learn`` and ``catch_up`` keep it current there.
        self.snapshot_dir: Path | None = None
        # Task features not yet in the store's cache (see ``defer_task_features``).
        self.unsaved_task_features: dict[str, tuple[dict[str, Any], str]] | None = None

    def __repr__(self) -> str:
        return (f"MetaModel({self.predictor.describe()}, {len(self.members)} members, "
                f"{self.predictor.n_seen} runs learned)")

    # ---- building ------------------------------------------------------------------------------

    @classmethod
    def fit(cls, store: ExperienceStore | str | Path | None = None, *, zoo: Sequence[Mapping[str, Any]],
            backend: str = "auto", online: str | None = DEFAULT_ONLINE, seed: int = 0,
            folds: int = 3, **kw: Any) -> MetaModel:
        """Fit from every run in the store.

        ``backend``: ``auto`` tries the LightGBM regressor and the LambdaRank ranker and keeps the
        one with lower top-1 regret leaving one task family out at a time (with at least 3
        families: a user's task comes from none of them), else leaving tasks out (with at least 6
        tasks), else the regressor; with an ``online`` combination, the regressor (the combination
        needs accuracies, not a ranker's scores); or any name in
        :data:`nasoa.meta.predictors.BACKENDS`. ``online`` (``residual``, ``blend`` or None) wraps the
        LightGBM choice with river for learning between refits.
        """
        st = _open_store(store)
        mm = cls(zoo=zoo, store=st, seed=seed, **kw)
        frame = training_frame(st.runs(), mm.time_model, mm.member_features)
        selection: dict[str, Any] = {}
        if backend == "auto":
            candidates = ("lgbm-regressor", "lgbm-ranker")
            factories = {n: (lambda s, n=n: make_predictor(n, s)) for n in candidates}
            if frame.height and frame["family"].n_unique() >= 3:
                backend, table = select_backend(mm._learn_frame(frame).with_columns(frame["family"]), factories,
                                                seed=seed, by="family")
                selection = {"by": "leave-one-family-out top-1 regret", "table": table}
            elif frame.height and frame["group"].n_unique() >= 6:
                backend, table = select_backend(mm._learn_frame(frame), factories, folds=folds, seed=seed)
                selection = {"by": "leave-tasks-out top-1 regret", "table": table}
            else:
                backend = "lgbm-regressor"
                selection = {"by": "default (fewer than 6 tasks to compare on)"}
            if online and BACKENDS[backend][1]["objective"] != "regression":
                # An online combination weighs (blend) or corrects (residual) its LightGBM part by
                # errors in accuracy, which a ranker's scores are not: on the experience shipped
                # 2026-12-02 LambdaRank won the comparison by 0.2 points of regret and the blend
                # then gave river, the worst ranker (regret 10 points), all of the weight.
                selection["kept"] = f"lgbm-regressor, not {backend}: an online combination needs accuracies"
                backend = "lgbm-regressor"
        if backend.startswith("lgbm") and online:
            objective = BACKENDS[backend][1]["objective"]
            predictor: Predictor = CombinedPredictor(seed=seed, mode=online, base={"objective": objective})
            name = f"combo-{online}:{backend}"
        else:
            predictor = make_predictor(backend, seed)
            name = backend
        predictor.learn_many(mm._learn_frame(frame))
        mm.predictor, mm.backend, mm.selection = predictor, name, selection
        mm.last_run_id = int(frame["id"].max()) if frame.height else 0
        return mm

    @classmethod
    def load(cls, store: ExperienceStore | str | Path | None = None, *, zoo: Sequence[Mapping[str, Any]],
             model_dir: str | Path | None = None, seed: int = 0, **kw: Any) -> MetaModel:
        """The store's saved model (``nasoa meta fit``; kept current by :meth:`learn`), caught up on
        runs appended since; else a model fitted now from the store; else (an empty store) an
        untrained one. Its cost does not grow with the store: a snapshot, not a replay of the runs."""
        st = _open_store(store)
        mdir = Path(model_dir) if model_dir is not None else default_model_dir(st.path)
        meta_file = mdir / "metamodel.json"
        doc, predictor = None, None
        if meta_file.exists():
            for attempt in (0, 1):
                try:
                    doc = json.loads(meta_file.read_text())
                except (OSError, ValueError) as e:
                    raise NasoaError(f"{meta_file} is unreadable ({e}); refit with `nasoa meta fit`") from None
                if doc.get("format") != MODEL_FORMAT:
                    raise NasoaError(f"{meta_file} is not a nasoa meta-model; refit with `nasoa meta fit`")
                if not _current_format(doc):
                    break  # it learned features no longer given: the store is refitted below
                try:
                    predictor = load_predictor(mdir / doc.get("predictor", "predictor"))
                    break
                except NasoaError:
                    if attempt:  # a writer replaced the snapshot twice while this read it: read the new one
                        raise
        if doc is not None and predictor is not None:
            mm = cls(predictor, zoo=zoo, store=st, grid=Grid.from_dict(doc["grid"]),
                     time_model=TimeModel.from_dict({**doc["time_model"], "machine_factor": machine_factor()}),
                     backend=doc["backend"],
                     seed=int(doc.get("seed", seed)), **kw)
            mm.last_run_id = int(doc.get("last_run_id", 0))
            mm.selection = doc.get("selection", {})
            mm.snapshot_dir = mdir if model_dir is None else None
            caught = mm.catch_up()
            if (caught or getattr(predictor, "upgraded", False)) and mm.snapshot_dir is not None:
                mm._save_cache(mdir)  # the next process starts from here (and from the current format)
            return mm
        if st.count():
            made: dict[str, Any] = {}
            if doc is not None and doc.get("backend"):  # an older format: refit it as it was made
                backend, online = split_backend(str(doc["backend"]))
                made = {"backend": backend, "online": online, "grid": saved_grid(mdir)}
                seed = int(doc.get("seed", seed))
            mm = cls.fit(st, zoo=zoo, seed=seed, **{**made, **kw})
            if model_dir is None:
                mm.snapshot_dir = mdir
                mm._save_cache(mdir)  # fitted once per store, not once per process
            return mm
        return cls(zoo=zoo, store=st, seed=seed, **kw)

    def _save_cache(self, mdir: Path) -> None:
        """Save the snapshot; best effort: a read-only location just means catching up (or fitting)
        again next time."""
        try:
            self.save(mdir)
        except OSError:
            pass

    def save(self, model_dir: str | Path | None = None) -> Path:
        """Write the predictor (pickle-free: see :mod:`nasoa.meta.predictors`) and ``metamodel.json``.

        The predictor goes to a new ``predictor-<id>/`` folder, then ``metamodel.json``, which names
        it, is replaced atomically: a process loading at the same time reads the old snapshot or the
        new one, never a mix, and never finds none. The previous folder is kept (a reader may be in
        it); older ones are removed."""
        if model_dir is None:
            if self.store is None:
                raise NasoaError("no model dir to save to: pass one, or build the MetaModel on a store")
            model_dir = default_model_dir(self.store.path)
        d = Path(model_dir)
        try:
            previous = json.loads((d / "metamodel.json").read_text()).get("predictor", "predictor")
        except (OSError, ValueError, AttributeError):
            previous = None
        name = f"predictor-{uuid.uuid4().hex[:12]}"
        self.predictor.save(d / name)
        atomic_write_json(d / "metamodel.json", {
            "format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "created": utc_now(),
            "backend": self.backend,
            "seed": self.seed, "grid": self.grid.to_dict(), "time_model": self.time_model.to_dict(),
            "last_run_id": self.last_run_id, "runs_learned": self.predictor.n_seen, "predictor": name,
            "store": str(self.store.path) if self.store is not None else None, "selection": self.selection,
        })
        for old in d.glob("predictor*"):
            if old.name not in (name, previous) and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        return d

    def catch_up(self) -> int:
        """Learn the store's runs appended after the last one this model saw, in row order; returns
        how many. Up to :data:`CATCH_UP_BULK` runs are learned one by one (as ``learn`` would have);
        a longer backlog (runs appended by ``nasoa meta collect`` or another store writer) in one
        ``learn_many`` update, whose cost does not grow with the backlog's length the way a run-by-run
        replay would (one warm start or refit, river skipping to its window)."""
        if self.store is None:
            return 0
        runs = self.store.runs(after_id=self.last_run_id)
        if runs.height == 0:
            return 0
        frame = training_frame(runs, self.time_model, self.member_features)
        if frame.height > CATCH_UP_BULK:
            self.predictor.learn_many(self._learn_frame(frame))
        else:
            for row in frame.to_dicts():
                self._learn_row(row)
        # Runs never learned from (continued runs) are passed over for good, not re-read at every load.
        self.last_run_id = max(self.last_run_id, int(runs["id"].max()))
        return frame.height

    @property
    def refit_due(self) -> bool:
        """A full LightGBM refit is due that was too large to run inside a learn (see :meth:`refit_if_due`)."""
        return bool(getattr(self.predictor, "refit_due", False))

    def refit_if_due(self) -> bool:
        """Run a due full refit now (between tasks, when no budget is running) and save the snapshot."""
        if not self.refit_due:
            return False
        self.predictor.refit()  # type: ignore[attr-defined]
        if self.snapshot_dir is not None:
            self._save_cache(self.snapshot_dir)
        return True

    def online_state(self) -> dict[str, Any] | None:
        """The online predictor's state: blend weights, each part's measured error, rows learned,
        warm updates and refits (``nasoa meta show``); None for a back-end without one."""
        state = getattr(self.predictor, "state", None)
        return state() if callable(state) else None

    # ---- features ----------------------------------------------------------------------------

    @property
    def member_features(self) -> dict[str, dict[str, Any]]:
        """The zoo's current descriptor of each member, by name (what stored runs are described by)."""
        return {d["model_name"]: d for d in self.members.descriptors}

    def _learn_frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(feature_columns(frame) + [c for c in ("y", "group") if c in frame.columns])

    def _learn_row(self, row: dict[str, Any]) -> None:
        y, g = row.pop("y"), row.pop("group")
        rid = int(row.pop("id", 0) or 0)
        row.pop("created", None)
        row.pop("family", None)  # for evaluation only: never a feature
        self.predictor.learn_one(row, y, g)
        self.last_run_id = max(self.last_run_id, rid)

    def task_features(self, task: Any, members: Iterable[str] | None = None) -> dict[str, Any]:
        """Features of a task: a dict passes through; a TaskData is measured (and cached), with the
        transferability scores of ``members`` (default: every member; ``()``: the meta-features
        alone, which cost well under a second)."""
        if isinstance(task, Mapping):
            return dict(task)
        extract = None
        if self.feature_extractor is not None:
            fx = self.feature_extractor

            def extract(name: str) -> tuple[np.ndarray, np.ndarray]:
                return fx(task, name)

        names = self.members.names if members is None else members
        _, feats = cached_task_features(task, store=self.store, members=names, extract=extract,
                                        unsaved=self.unsaved_task_features)
        return feats

    def defer_task_features(self) -> None:
        """Hold the task features measured from now on in memory instead of caching them in the
        store at once; :meth:`save_task_features` writes them. ``nasoa adapt`` writes them once its
        run goes ahead, so a refused adapt leaves the store unchanged."""
        if self.unsaved_task_features is None:
            self.unsaved_task_features = {}

    def save_task_features(self) -> int:
        """Write the deferred task features to the store's cache; returns how many tasks."""
        return save_task_features(self.store, self.unsaved_task_features or {})

    def candidates(self, task: Any, budget_s: float, *, feasible_only: bool = True) -> pl.DataFrame:
        """Every candidate regime for the task within the budget, with its features."""
        return enumerate_candidates(self.members, self.task_features(task), float(budget_s), self.grid,
                                    self.time_model, feasible_only=feasible_only)

    def _featurise(self, task_features: Mapping[str, Any], candidates: pl.DataFrame | Iterable[Mapping[str, Any]],
                   ) -> pl.DataFrame:
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        rows = candidates.to_dicts() if hasattr(candidates, "to_dicts") else [dict(c) for c in candidates]
        base = []
        for c in rows:
            if "budget_s" not in c:
                raise NasoaError("each candidate needs a budget_s (seconds) besides its regime")
            d = self.members.by_name(str(c.get("model_name"))) or {"model_name": str(c.get("model_name"))}
            regime = {k: c[k] for k in ("lr", "frozen_stages", "schedule", "optimizer", "batch_size") if k in c}
            base.append(_base_row(task_features, d, regime, float(c["budget_s"]), input_size=c.get("input_size")))
        return derive(pl.DataFrame(base, infer_schema_length=None), self.time_model)

    # ---- queries -------------------------------------------------------------------------------

    def _output(self, frame: pl.DataFrame, pred: np.ndarray, std: np.ndarray | None, accuracy: np.ndarray,
                ) -> pl.DataFrame:
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        cols = [c for c in (*REGIME_COLUMNS, "budget_s", "planned_epochs", "step_ms", "_min_budget_s")
                if c in frame.columns]
        out = frame.select(cols).rename({"_min_budget_s": "min_budget_s"} if "_min_budget_s" in cols else {})
        # score: what the pick ranks by, unclipped; predicted_accuracy: the back-end's accuracy
        # estimate (predict_accuracy_many), clipped to [0, 1]. They differ where the score adds a
        # within-task ranking part, so the shown accuracies need not fall in rank order.
        return out.with_columns(
            pl.Series("predicted_accuracy", np.clip(accuracy, 0.0, 1.0), dtype=pl.Float64),
            pl.Series("score", np.asarray(pred, dtype=np.float64), dtype=pl.Float64),
            pl.Series("uncertainty", std if std is not None else [None] * frame.height, dtype=pl.Float64),
        )

    def predict(self, task: Any, candidates: pl.DataFrame | Iterable[Mapping[str, Any]]) -> pl.DataFrame:
        """Predicted accuracy (and an uncertainty where the back-end gives one) of each candidate.

        ``candidates``: a frame from :meth:`candidates`, or rows with ``model_name``, ``lr``,
        ``frozen_stages``, ``schedule``, ``optimizer``, ``batch_size`` and ``budget_s``.
        """
        tf = self.task_features(task)
        frame = candidates if (hasattr(candidates, "columns") and "planned_epochs" in candidates.columns) \
            else self._featurise(tf, candidates)
        pred = self.predictor.predict_many(frame)
        return self._output(frame, pred, self.predictor.predict_std_many(frame),
                            self.predictor.predict_accuracy_many(frame))

    def recommend(self, task: Any, budget_s: float, k: int = 5) -> pl.DataFrame:
        """The ``k`` best candidate regimes for the task within ``budget_s``, best first.

        Scores every feasible candidate with one pass of the boosters; with an online combination,
        the online part re-scores the ``rescore_top`` best. Columns: the regime, ``planned_epochs``,
        ``predicted_accuracy``, ``score`` (the unclipped ranking score), ``uncertainty`` (for the
        ``k`` shown, where the back-end has one), ``rank``. :meth:`regime` turns a row into a
        :class:`nasoa.core.train.Regime` dict.
        """
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        frame = self.candidates(task, budget_s)
        p = self.predictor
        parts = None
        if isinstance(p, CombinedPredictor):
            # LightGBM scores every candidate once (its pairwise part reads the best few side by side,
            # as the evaluation scores a decision's runs); river re-scores the best rescore_top.
            parts = p.base.predict_parts(frame)
            if frame.height > self.rescore_top:
                keep = np.argsort(-(parts[0] + parts[1]), kind="stable")[: self.rescore_top]
                frame, parts = frame[keep], (parts[0][keep], parts[1][keep])
            pred = p.combine(frame, *parts)
        else:
            pred = p.predict_many(frame)
        if p.n_seen == 0:
            # Untrained: a documented prior order (best source accuracy, lr nearest 0.01, most epochs).
            src = frame["model_source_accuracy"].fill_null(0.0).to_numpy() \
                if "model_source_accuracy" in frame.columns else np.zeros(frame.height)
            lr_dist = np.abs(np.log10(frame["lr"].to_numpy()) + 2.0)
            order = np.lexsort((-frame["planned_epochs"].to_numpy(), lr_dist, -src))
        else:
            order = np.argsort(-pred, kind="stable")
        top = order[:k]
        shown = frame[top]
        accuracy = (p.combine_accuracy(shown, parts[0][top], parts[1][top]) if parts is not None
                    else p.predict_accuracy_many(shown))
        out = self._output(shown, pred[top], p.predict_std_many(shown), accuracy)
        return out.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"))

    def novelty(self, task: Any) -> dict[str, Any]:
        """How far the task lies from the tasks in the experience (:func:`nasoa.meta.novelty.novelty`):
        ``score`` above 1 means farther than nine experience tasks in ten from their nearest one."""
        experience = [f for _, _, f in self.store.task_list()] if self.store is not None else []
        return novelty(self.task_features(task), experience)

    def regime(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A recommendation row -> a dict for ``nasoa.core.train.Regime.from_dict``."""
        return candidate_regime(row, self.grid)

    def learn(self, result: RunRecord | Mapping[str, Any], *, record: bool = True) -> int | None:
        """One more experience: append it to the store (when ``record`` and there is a store), learn
        it and any run stored since this model's last (:meth:`catch_up`, in row order) and save the
        snapshot when this is the store's own model, so the next process starts from it. Missing
        model features are filled from the zoo; returns the row id.

        Bounded cost (``nasoa bench meta`` measures it): one store append, one predictor update (a
        warm start every 10 runs, a river window rebuild every 128, a refit at most every quarter
        of growth and only up to 5,000 rows) and one snapshot write whose size does not grow with
        the store beyond the LightGBM table, written again only after a refit."""
        rec = result if isinstance(result, RunRecord) else RunRecord.from_dict(result)
        if not rec.model_features:
            d = self.members.by_name(rec.model_name)
            if d is not None:
                rec.model_features = {k: v for k, v in d.items() if k != "_machine"}
        if not (record and self.store is not None):
            frame = training_frame([dict(rec.to_dict(), id=0)], self.time_model, self.member_features)
            for row in frame.to_dicts():
                self._learn_row(row)
            return None
        rid = self.store.append(rec)
        self.catch_up()
        if self.snapshot_dir is not None:
            self._save_cache(self.snapshot_dir)
        return rid

    def feature_importances(self) -> dict[str, float] | None:
        return self.predictor.feature_importances()

    def evaluate(self, *, folds: int = 5, backends: Sequence[str] | None = None, online: bool = False,
                 warm_tasks: int | None = None, plot: str | Path | None = None,
                 by: Sequence[str] = ("family", "task")) -> dict[str, Any]:
        """Metrics of each back-end on this model's store (per-task Spearman, top-1 regret, NDCG@3):
        leaving one task family out at a time (``by`` holds ``"family"``: the primary metric, since
        a user's task comes from no family the experience holds) and leaving tasks out in ``folds``
        folds (``"task"``); optionally the online (prequential) comparison and a
        predicted-vs-actual PNG of the first back-end under the first protocol."""
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        if self.store is None:
            raise NasoaError("evaluation needs a store; build the MetaModel with MetaModel.load(store)")
        unknown = set(by) - {"family", "task"}
        if unknown or not by:
            raise NasoaError(f"--by takes family and/or task, not {', '.join(sorted(unknown)) or 'nothing'}")
        full = training_frame(self.store.runs(), self.time_model, self.member_features)
        frame = self._learn_frame(full)
        n_tasks = frame["group"].n_unique() if frame.height else 0
        if n_tasks < 2:
            raise NasoaError(f"the store {self.store.path} has runs on {n_tasks} task(s); evaluation needs at least "
                             f"2 (collect more with `nasoa meta collect`)")
        families = full["family"].n_unique()
        if "family" in by and families < 2:
            raise NasoaError(f"the store {self.store.path} holds tasks of {families} family; leaving a family out "
                             f"needs at least 2 (pass --by task, or collect tasks of other families)")
        names = list(backends or ("lgbm-regressor", "lgbm-ranker", "river", "combo-blend", "most-often-best"))
        out: dict[str, Any] = {"runs": frame.height, "tasks": n_tasks, "families": families,
                               "folds": min(folds, n_tasks), "by": list(by)}
        # What luck alone costs a perfect ranker on these runs (validation sampling): the regrets'
        # context. Needs the validation size, which _learn_frame keeps as a task feature.
        out["regret_floor"] = regret_floor(frame, self.seed)
        out["regret_floor_decision"] = regret_floor(decision_key(frame), self.seed)
        # Which runs adapt could have picked (the grid's regimes): their decisions are read apart too.
        pickable = pl.Series(OFFERED, offered(full, self.members, self.grid))
        with_family = frame.with_columns(full["family"], pickable)
        out["offered_runs"] = int(pickable.sum())
        for proto in by:
            key = "leave_families_out" if proto == "family" else "leave_tasks_out"
            out[key], out[f"per_task_{proto}"] = {}, {}
            for name in names:
                factory = (lambda s, n=name: make_predictor(n, s))
                if proto == "family":
                    preds, per_task, summary = leave_families_out(with_family, factory, self.seed)
                else:
                    preds, per_task, summary = leave_tasks_out(frame.with_columns(pickable), factory, folds,
                                                               self.seed)
                if name == "most-often-best":
                    summary["mae"] = None  # a ranking score, not an accuracy
                out[key][name] = summary
                out[f"per_task_{proto}"][name] = per_task.to_dicts()
                if plot is not None and "plot" not in out:
                    what = f"{families} families held out one at a time" if proto == "family" else \
                        f"{n_tasks} tasks held out in {out['folds']} folds"
                    out["plot"] = str(plot_predicted_vs_actual(preds, plot, f"{name}, {what}"))
        if online:
            wt = warm_tasks if warm_tasks is not None else max(2, n_tasks // 3)
            facs = {n: (lambda s, n=n: make_predictor(n, s)) for n in
                    ("lgbm-regressor", "river", "combo-residual", "combo-blend")}
            out["online"] = prequential(frame, facs, warm_tasks=wt, seed=self.seed)
            out["online_warm_tasks"] = wt
        return out
