"""Features of a fine-tuning run, as dicts and as polars frames.

A run's features are four groups, each a flat ``dict[str, float | str]`` so that a new zoo member
or a new hyperparameter is new keys and values, not new code:

* task meta-features (``task_*``), computed in seconds from the images and labels only (never a
  dataset's name or any other identity: a user's task comes from no source we know), plus the
  model-dependent transferability of each member's frozen penultimate features on a few hundred
  training images: ``logme`` (LogME) and ``knn`` (leave-one-out k-NN accuracy), each also relative
  to the best member on the task (``logme_gap``, ``knn_gap``); stored per task as
  ``task_features["logme"][member]`` and ``task_features["knn"][member]``;
* the model descriptor (``model_*``, from the zoo registry: :mod:`nasoa.meta.descriptors`);
* the regime (``lr_log10``, ``frozen_stages``, ``frozen_frac``, ``schedule``, ``optimizer``,
  ``batch_size``);
* what the budget buys this member on this machine, as the time model derives it:
  ``planned_epochs`` and ``images_seen``. The seconds themselves (``budget_s``, kept in every frame
  as the decision's context, :data:`CONTEXT_COLUMNS`) and the step time (``step_ms``, a column of
  candidates and runs) are not learned from: they depend on the machine and threads a run had.

:func:`derive` computes the regime and budget columns with polars expressions, for stored runs
(:func:`training_frame`) and for the thousands of candidates a recommendation scores
(:mod:`nasoa.meta.candidates`) alike, so both see the same definitions.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nasoa.core.deadline import MARGIN_FRAC, MARGIN_S
from nasoa.core.errors import NasoaError
from nasoa.core.families import lineage_of

from .descriptors import forward_ratio, nearest_setting
from .knn import knn_accuracy
from .logme import logme

if TYPE_CHECKING:
    import polars as pl

    from .store import ExperienceStore

__all__ = [
    "TimeModel",
    "TASK_PREFIX",
    "MODEL_PREFIX",
    "REGIME_FEATURES",
    "BUDGET_FEATURES",
    "CONTEXT_COLUMNS",
    "MONOTONE_FEATURES",
    "task_id",
    "task_meta_features",
    "logme_scores",
    "transfer_scores",
    "task_columns",
    "TRANSFER_SCORES",
    "TRANSFER_IMAGES",
    "cached_task_features",
    "save_task_features",
    "derive",
    "feature_columns",
    "training_frame",
    "row_features",
]

TASK_PREFIX = "task_"
MODEL_PREFIX = "model_"
REGIME_FEATURES = ("lr_log10", "frozen_stages", "frozen_frac", "schedule", "optimizer", "batch_size")
# What a regime's budget buys, in units every machine shares: the epochs and images it trains on. The
# seconds (``budget_s``, its log) and the measured step time are left out: the same regime buys the
# same epochs on a machine twice as fast in half the seconds, a second thread makes every step 1.33x
# faster here and a GPU far more, so as features they told the trees the machine and its load, and on
# a new machine they fell outside everything learned (a GPU's step time below every CPU run's). What a
# run reaches depends on what it trained on (these two and the member, whose descriptors include its
# profiled step times). Leaving one family out (4,407 runs, seeds 0-5,
# bench/results/meta-eval-20261204d/): the regret per decision fell at every seed, per task it held.
BUDGET_FEATURES = ("planned_epochs", "images_seen")
# Kept beside the features in every frame and never learned from (predictors.schema.RESERVED): the
# budget of the decision a run answers; evaluation reads a decision as a task at one budget.
CONTEXT_COLUMNS = ("budget_s",)
TRANSFER_FEATURES = ("logme", "logme_gap", "knn", "knn_gap")
# Runs that continued another run's weights (adapt's probe winners): recorded, never learned from.
CONTINUED_STRATEGIES = frozenset({"nasoa-probed"})
# Per-member transferability scores kept in a task's features (``feats[name][member]``).
TRANSFER_SCORES = ("logme", "knn")
# Images per task whose frozen features the transferability scores use (one forward per member).
TRANSFER_IMAGES = 300
# A member's time-model terms calibrated on this machine (descriptor keys and candidate columns).
TIME_TERM_COLUMNS = ("_step_batch_exp", "_step_size_exp", "_setup_s", "_eval_factor", "_step_excess", "_stop_steps",
                     "_step_batch_size_exp", "_step_size_above_exp")
# Accuracy may only rise with these (the budget's terms; the member's transferability) and only fall
# with the member's gap to the task's best-transferring member: the LightGBM back-ends constrain them.
# Without the transferability constraints the trees learned, from MNIST-like experience, to prefer
# MNIST-pretrained members even where their k-NN accuracy was half the ImageNet members' (a held-out
# shapes task: predicted 0.62, reached 0.31). Leaving one family out (5 seeds, 1,412 runs) the
# constraints raised the median within-task Spearman from 0.656 to 0.687 and cut the mean top-1 regret
# from 4.6 to 4.3 points.
# ``cell_rel`` / ``cell_fail``: the LightGBM back-end's regime prior (how a regime did on other
# tasks, nasoa.meta.predictors.regime_prior), added by the predictor, not by training_frame.
MONOTONE_FEATURES = ("planned_epochs", "images_seen", "knn", "logme", "cell_rel")
MONOTONE_DECREASING = ("knn_gap", "logme_gap", "cell_fail")


# Defaults of the overhead terms where no run here taught them (:mod:`nasoa.meta.timing` shrinks its fit toward
# them by one pseudo-run, so a machine's own runs replace them within a few). The experience collection's runs
# on the 2-core AMD EPYC VM read 2.9-3.2 and 1.5-1.8 (bench/results/time-model-20261207/).
EVAL_FACTOR = 2.0
STOP_STEPS = 1.0


@dataclass(frozen=True)
class TimeModel:
    """How long a regime takes: the trainer's own accounting, with the zoo's measured step times.

    ``T = setup_s + epochs * steps_per_epoch * step_ms * (1 + step_excess) + eval + margin``, where
    ``step_ms`` is the member's ``train_step_ms`` at the regime's frozen stages (the median step,
    data pipeline included), scaled from the zoo's profiling batch to the regime's batch as
    ``(batch / 64) ** batch_exponent``, from the member's profiled input side to the run's as
    ``(side / profiled side) ** size_exponent``, and by ``machine_factor`` (this machine's speed relative to
    the one in the zoo's provenance: >1 is slower). Evaluation costs ``eval_factor`` of a forward pass
    per image (the member's step with every stage frozen, per image); ``step_excess`` is how much the
    mean step exceeds the median one; ``stop_steps`` steps' worth of time go to the first steps'
    warm-up and to the step that would overrun the planned stop.
    ``margin_s + margin_frac * budget`` mirrors the trainer's safety margin. A candidate is
    feasible when it fits ``min_epochs``.

    The fields are the defaults: where a member's record carries terms calibrated on this machine
    (:mod:`nasoa.meta.timing`: ``_step_batch_exp``, ``_setup_s``, ``_eval_factor``, ``_step_excess``
    and ``_stop_steps`` columns), those are used instead.
    """

    setup_s: float = 1.5
    eval_factor: float = EVAL_FACTOR
    batch_exponent: float = 1.0
    size_exponent: float = 2.0
    step_excess: float = 0.0
    stop_steps: float = STOP_STEPS
    margin_s: float = MARGIN_S
    margin_frac: float = MARGIN_FRAC
    min_epochs: float = 1.0
    machine_factor: float = 1.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TimeModel:
        # A time model saved before ``stop_steps`` priced evaluation at the run's own step, not at a forward
        # pass: its ``eval_factor`` meant another thing (0.35 of a step), so the current default stands.
        legacy = "stop_steps" not in d
        return cls(**{k: float(d[k]) for k in cls.__dataclass_fields__ if k in d
                      and not (legacy and k == "eval_factor")})


# --------------------------------------------------------------------------------------------------
# Task meta-features


def _array(x: Any) -> np.ndarray:
    """A CPU tensor or array as numpy, without importing torch."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    return np.asarray(x)


def task_id(task: Any) -> str:
    """A stable id for a task's content: its name plus a hash of labels and a sample of images."""
    y = _array(task.y_train)
    x = _array(task.x_train)
    h = hashlib.sha256()
    h.update(str(getattr(task, "name", "")).encode())
    h.update(str(tuple(x.shape)).encode())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    if len(x):
        step = max(1, len(x) // 64)
        h.update(np.ascontiguousarray(x[::step]).tobytes())
    yv = _array(task.y_val)
    h.update(np.ascontiguousarray(yv, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def task_meta_features(task: Any, *, max_images: int = 2000, seed: int = 0) -> dict[str, float | str]:
    """Meta-features of a task (a :class:`nasoa.core.data.TaskData` or anything shaped like it).

    Counts come from the labels; pixel statistics from at most ``max_images`` training images
    (a seeded sample), so this takes well under a second even for large tasks.
    """
    y = _array(task.y_train).astype(np.int64)
    x = _array(task.x_train)
    k = int(getattr(task, "num_classes", int(y.max()) + 1 if y.size else 0))
    if y.size == 0 or k < 1:
        raise NasoaError(f"task {getattr(task, 'name', '?')!r} has no training images; meta-features need some")
    counts = np.bincount(y, minlength=k).astype(np.float64)
    info = dict(getattr(task, "info", {}) or {})
    native = info.get("native_size") or x.shape[2:]
    native_side = float(np.mean(native)) if np.ndim(native) else float(native)
    channels = int(info.get("native_channels", x.shape[1]))
    if len(x) > max_images:
        idx = np.sort(np.random.default_rng(seed).choice(len(x), max_images, replace=False))
        xs = x[idx]
    else:
        xs = x
    xf = xs.astype(np.float32) / 255.0
    per_image_mean = xf.mean(axis=(1, 2, 3))
    hist = np.bincount((xs.reshape(-1) >> 4).astype(np.int64), minlength=16).astype(np.float64)
    p = hist / max(hist.sum(), 1.0)
    entropy = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    colour = float(xf.std(axis=1).mean()) if xf.shape[1] > 1 else 0.0
    n_val = int(_array(task.y_val).shape[0])
    nonzero = counts[counts > 0]
    return {
        "task_num_classes": float(k),
        "task_num_train": float(y.size),
        "task_num_train_log10": math.log10(y.size),
        "task_num_val": float(n_val),
        "task_per_class_min": float(nonzero.min()) if nonzero.size else 0.0,
        "task_per_class_mean": float(counts.mean()),
        "task_imbalance": float(nonzero.max() / nonzero.min()) if nonzero.size else 1.0,
        "task_native_size": native_side,
        "task_native_channels": float(channels),
        "task_image_size": float(x.shape[2]),
        "task_pixel_mean": float(xf.mean()),
        "task_pixel_std": float(xf.std()),
        "task_pixel_entropy": entropy,
        "task_image_contrast": float(xf.std(axis=(1, 2, 3)).mean()),
        "task_brightness_spread": float(per_image_mean.std()),
        "task_colourfulness": colour,
    }


def transfer_scores(extract: Callable[[str], tuple[np.ndarray, np.ndarray]], members: Iterable[str],
                    ) -> dict[str, dict[str, float]]:
    """LogME and k-NN accuracy of each member, ``{"logme": {member: score}, "knn": {...}}``:
    ``extract(name) -> (features N x D, labels N)`` runs the member's forward pass once for both
    (it lives outside ``meta``, which does not import the nets)."""
    out: dict[str, dict[str, float]] = {k: {} for k in TRANSFER_SCORES}
    for name in members:
        f, y = extract(name)
        for key, fn in (("logme", logme), ("knn", knn_accuracy)):
            try:
                out[key][name] = round(float(fn(f, y)), 6)
            except ValueError:
                out[key][name] = float("nan")
    return out


def logme_scores(extract: Callable[[str], tuple[np.ndarray, np.ndarray]], members: Iterable[str],
                 ) -> dict[str, float]:
    """LogME of each member (see :func:`transfer_scores`)."""
    return transfer_scores(extract, members)["logme"]


def cached_task_features(task: Any, *, store: ExperienceStore | None = None, members: Iterable[str] = (),
                         extract: Callable[[str], tuple[np.ndarray, np.ndarray]] | None = None,
                         unsaved: dict[str, tuple[dict[str, Any], str]] | None = None,
                         ) -> tuple[str, dict[str, Any]]:
    """``(task_id, features)`` with the transferability scores (:data:`TRANSFER_SCORES`) of every
    member in ``members`` (when ``extract`` is given), read from and written to the store's
    per-task cache. Features cached by an older version (without k-NN, or with dataset identity)
    are brought up to date.

    With ``unsaved`` (a dict), what would be written goes there instead (task id -> (features,
    spec)) and is read back from there first: the caller writes it with
    :func:`save_task_features` once it is sure (``nasoa adapt`` once its run goes ahead, so a
    refused command leaves the store as it found it)."""
    tid = task_id(task)
    feats = None
    if unsaved is not None and tid in unsaved:
        feats = dict(unsaved[tid][0])
    elif store is not None:
        feats = store.task_features(tid)
    changed = feats is None
    if feats is None:
        feats = dict(task_meta_features(task))
        feats["logme"] = {}
    if "task_source" in feats:  # identity, dropped from the features: it cannot transfer to a user's data
        feats.pop("task_source")
        changed = True
    if extract is not None:
        todo = [m for m in members if any(m not in (feats.get(k) or {}) for k in TRANSFER_SCORES)]
        if todo:
            scores = transfer_scores(extract, todo)
            for k in TRANSFER_SCORES:
                feats.setdefault(k, {}).update(scores[k])
            changed = True
    if changed and unsaved is not None:
        unsaved[tid] = (feats, str(getattr(task, "name", "")))
    elif changed and store is not None:
        store.put_task_features(tid, feats, str(getattr(task, "name", "")))
    return tid, feats


def save_task_features(store: ExperienceStore | None, unsaved: dict[str, tuple[dict[str, Any], str]]) -> int:
    """Write the features :func:`cached_task_features` held back in ``unsaved`` to the store's
    cache (and forget them there); returns how many tasks were written."""
    n = 0
    while unsaved and store is not None:
        tid, (feats, spec) = next(iter(unsaved.items()))
        store.put_task_features(tid, feats, spec)
        del unsaved[tid]
        n += 1
    return n


# --------------------------------------------------------------------------------------------------
# Regime and budget features (columnar)


def derive(frame: pl.DataFrame, time_model: TimeModel) -> pl.DataFrame:
    """Add the regime, budget and transferability columns to a frame of base columns.

    Base columns: ``task_num_train``, ``task_num_val``, ``lr``, ``frozen_stages``, ``batch_size``,
    ``budget_s``, ``model_num_stages``, ``_step_ms_ref`` and ``_step_batch`` (the member's
    measured step time at these frozen stages, and the batch it was measured at), ``logme`` and
    ``_logme_max`` (may be null); optional ``_epochs_actual`` (what a stored run achieved: used
    instead of the estimate) and the member's calibrated time-model terms
    (:data:`TIME_TERM_COLUMNS`; null: the time model's defaults).
    """
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    tm = time_model
    cols = frame.columns

    def term(col: str, default: float) -> pl.Expr:
        """A member's calibrated time-model term, or the time model's default where it has none."""
        if col not in cols:
            return pl.lit(default, dtype=pl.Float64)
        return pl.col(col).cast(pl.Float64).fill_nan(None).fill_null(default)

    n = pl.col("task_num_train").cast(pl.Float64)
    bs = pl.min_horizontal(pl.col("batch_size").cast(pl.Float64), n)
    # Steps per epoch as the trainer counts them: full batches only once the data holds two.
    spe = pl.when(n >= 2 * bs).then((n / bs).floor()).otherwise((n / bs).ceil()).clip(lower_bound=1.0)
    batch_exp = term("_step_batch_exp", tm.batch_exponent)
    size_scale = pl.lit(1.0, dtype=pl.Float64)
    if "_size_ref" in cols and "model_input_size" in cols:  # a run at another side than profiled
        ratio = pl.col("model_input_size").cast(pl.Float64) / pl.col("_size_ref").cast(pl.Float64)
        # The batch's exponent moves with the side (larger images: the step's fixed part weighs less).
        batch_exp = batch_exp + (term("_step_batch_size_exp", 0.0) * ratio.log()).fill_nan(0.0).fill_null(0.0)
        # Below a member's profiled side a step's fixed costs weigh (an exponent of about 1.1-1.4 on 2 CPU
        # cores); above it the pixels' compute dominates: the steeper slope runs above their profiled side
        # taught (``_step_size_above_exp``), and at least the physical prior's square. On the 2-core VM the
        # ImageNet members' steps grew at exponents of 2.0-2.5 from 64 to 128 px (caches overflow), which
        # the fit, pooled over members and sides, learns short: without the floor its plans at 128 px ran
        # 28% long (bench/results/time-model-20261207/, bench/results/photos-side-20261206/).
        exponent = term("_step_size_exp", tm.size_exponent)
        above = pl.max_horizontal(exponent + term("_step_size_above_exp", 0.0), pl.lit(tm.size_exponent))
        exponent = pl.when(ratio > 1.0).then(above).otherwise(exponent)
        size_scale = ratio.pow(exponent).fill_nan(None).fill_null(1.0)
    batch_scale = (bs / pl.col("_step_batch")).pow(batch_exp)
    step_ms = pl.col("_step_ms_ref") * batch_scale * size_scale * tm.machine_factor
    if "_step_ms_actual" in cols:  # a stored run: what it measured, not the estimate
        step_ms = pl.coalesce(pl.col("_step_ms_actual").cast(pl.Float64), step_ms)
    # The final evaluation is a forward pass over the validation images: at the step with every stage
    # frozen, not the run's own (``forward_ratio``; absent: the run's own step, as stores before it read).
    forward = (pl.col("_forward_ratio").cast(pl.Float64).fill_nan(None).fill_null(1.0) if "_forward_ratio" in cols
               else pl.lit(1.0, dtype=pl.Float64))
    forward_ms = step_ms * forward
    eval_s = pl.col("task_num_val").cast(pl.Float64) * forward_ms / bs * term("_eval_factor", tm.eval_factor) / 1000.0
    budget = pl.col("budget_s").cast(pl.Float64)
    setup_s = term("_setup_s", tm.setup_s)
    # Steps' worth of the budget a run does not train in: the first steps' warm-up, and the part of a step
    # left when the next one would end after the planned stop (a second or more a step at 128 px).
    stop_s = term("_stop_steps", tm.stop_steps) * step_ms / 1000.0
    overhead = setup_s + eval_s + stop_s + tm.margin_s + tm.margin_frac * budget
    epoch_s = spe * step_ms * (1.0 + term("_step_excess", tm.step_excess)) / 1000.0
    estimate = ((budget - overhead) / epoch_s).clip(lower_bound=0.0)
    epochs = (pl.coalesce(pl.col("_epochs_actual"), estimate) if "_epochs_actual" in cols else estimate)
    return frame.with_columns(
        (pl.col("lr").cast(pl.Float64).log10()).alias("lr_log10"),
        (pl.col("frozen_stages").cast(pl.Float64) / pl.col("model_num_stages").cast(pl.Float64).clip(lower_bound=1.0))
        .alias("frozen_frac"),
        step_ms.alias("step_ms"),
        epochs.alias("planned_epochs"),
        (epochs * n).alias("images_seen"),
        (pl.col("_logme_max") - pl.col("logme")).alias("logme_gap"),
        (pl.col("_knn_max") - pl.col("knn")).alias("knn_gap"),
        # Time the regime needs for min_epochs, and the time it is predicted to take.
        # The budget this regime needs to fit min_epochs (candidates below it are infeasible).
        ((setup_s + eval_s + stop_s + tm.margin_s + tm.min_epochs * epoch_s) / (1 - tm.margin_frac))
        .alias("_min_budget_s"),
    )


def feature_columns(frame: pl.DataFrame | Iterable[str]) -> list[str]:
    """The columns a predictor is given: the task, model, regime, budget and transfer features it
    learns from, and the decision's budget (:data:`CONTEXT_COLUMNS`), which it never learns from."""
    cols = frame.columns if hasattr(frame, "columns") else list(frame)
    named = set(REGIME_FEATURES) | set(BUDGET_FEATURES) | set(TRANSFER_FEATURES) | set(CONTEXT_COLUMNS)
    return [c for c in cols if c.startswith(TASK_PREFIX) or c.startswith(MODEL_PREFIX) or c in named]


def task_columns(task_features: Mapping[str, Any]) -> dict[str, float]:
    """The numeric ``task_*`` meta-features: what a predictor sees of a task besides transferability.
    Anything else (a name, a path, a source kind from older stores) is left out."""
    return {k: float(v) for k, v in task_features.items()
            if k.startswith(TASK_PREFIX) and isinstance(v, (int, float)) and not isinstance(v, bool)}


def _step_ms_ref(model_features: Mapping[str, Any], frozen: int) -> float:
    table = model_features.get("_train_step_ms") or {}
    if not table:
        v = model_features.get("model_step_ms_full")
        return float(v) if v is not None else float("nan")
    return float(table[nearest_setting(table, frozen)])


def _setting_size_exp(model_features: Mapping[str, Any], frozen: int) -> dict[str, float]:
    """``{"_step_size_exp": ...}`` of the frozen setting nearest ``frozen`` where calibrated (else nothing:
    the member's)."""
    exps = model_features.get("_step_size_exps") or {}
    if not exps:
        return {}
    v = _finite(exps.get(nearest_setting(exps, frozen)))
    return {"_step_size_exp": v} if v is not None else {}


def _base_row(task_features: Mapping[str, Any], model_features: Mapping[str, Any], regime: Mapping[str, Any],
              budget_s: float, epochs_actual: float | None = None, step_ms_actual: float | None = None,
              input_size: float | None = None) -> dict[str, Any]:
    """``input_size``: the side the member runs at (None: the one it was profiled at,
    ``model_input_size``); the feature ``model_input_size`` is the run's side, ``_size_ref`` the
    profiled one (the time model scales the step time between them)."""
    name = model_features.get("model_name")
    row: dict[str, Any] = task_columns(task_features)
    row.update({k: v for k, v in model_features.items() if k.startswith(MODEL_PREFIX)})
    ref = _finite(model_features.get("model_input_size"))
    row["_size_ref"] = ref
    if _finite(input_size) is not None:
        row["model_input_size"] = float(input_size)
    frozen = int(regime.get("frozen_stages", 0))
    row.update({
        "lr": float(regime.get("lr", 0.01)),
        "frozen_stages": frozen,
        "schedule": str(regime.get("schedule", "cosine")),
        "optimizer": str(regime.get("optimizer", "sgd")),
        "batch_size": int(regime.get("batch_size", 64)),
        "budget_s": float(budget_s),
        "_step_ms_ref": _step_ms_ref(model_features, frozen),
        "_forward_ratio": forward_ratio(model_features.get("_train_step_ms") or {}, frozen),
        "_step_batch": float(model_features.get("_train_step_batch") or 64),
        **{c: _finite(model_features.get(c)) for c in TIME_TERM_COLUMNS},
        **_setting_size_exp(model_features, frozen),
        "_epochs_actual": epochs_actual,
        "_step_ms_actual": step_ms_actual,
    })
    for key in TRANSFER_SCORES:
        scores = dict(task_features.get(key) or {})
        vals = [float(v) for v in scores.values() if _finite(v) is not None]
        row[key] = _finite(scores.get(name))
        row[f"_{key}_max"] = max(vals) if vals else None
    if "model_num_stages" not in row:
        table = model_features.get("_train_step_ms") or {}
        row["model_num_stages"] = float(max(len(table) - 1, 1)) if table else 4.0
    return row


def row_features(task_features: Mapping[str, Any], model_features: Mapping[str, Any], regime: Mapping[str, Any],
                 budget_s: float, time_model: TimeModel | None = None, epochs_actual: float | None = None,
                 input_size: float | None = None) -> dict[str, Any]:
    """The feature dict of one (task, model, regime, budget[, input side]): what ``learn_one`` receives."""
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    base = _base_row(task_features, model_features, regime, budget_s, epochs_actual, input_size=input_size)
    frame = derive(pl.DataFrame([base], infer_schema_length=None), time_model or TimeModel())
    row = frame.row(0, named=True)
    return {k: row[k] for k in feature_columns(frame.columns) if row[k] is not None}


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def training_frame(runs: pl.DataFrame | Iterable[Mapping[str, Any]], time_model: TimeModel | None = None,
                   members: Mapping[str, Mapping[str, Any]] | None = None) -> pl.DataFrame:
    """Stored runs -> one row per run with the feature columns plus ``y`` (validation accuracy;
    chance level 1/k for a diverged run without one), ``group`` (task id), ``family`` (the task's
    family lineage, :func:`nasoa.core.families.lineage_of`: for evaluation only, never a feature), ``id``
    and ``created``.

    ``runs`` is :meth:`ExperienceStore.runs` (JSON as text or decoded) or a list of run dicts.
    ``members`` (name -> descriptor) replaces the model features stored with a run by the zoo's
    current ones, so that runs collected before a member was re-profiled describe it the same way
    as a candidate does. A run's ``step_ms`` and ``planned_epochs`` are what it measured and ran.
    """
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    rows = runs.to_dicts() if hasattr(runs, "to_dicts") else [dict(r) for r in runs]
    base_rows = []
    for r in rows:
        if r.get("strategy") in CONTINUED_STRATEGIES:
            continue  # trained on from another run's weights: not what its regime does in its budget
        dec = {}
        for c in ("task_features", "model_features", "regime", "extra"):
            v = r.get(c)
            dec[c] = json.loads(v) if isinstance(v, str) else dict(v or {})
        tf, mf = dec["task_features"], dict(dec["model_features"])
        # The side it ran at (recorded since runs could differ from the member's profiled side).
        size = _finite(dec["extra"].get("input_size")) or _finite(mf.get("model_input_size"))
        if members is not None and r["model_name"] in members:
            mf = dict(members[r["model_name"]])
        mf.setdefault("model_name", r["model_name"])
        epochs = _finite(dec["extra"].get("epochs"))
        step_ms = _finite(dec["extra"].get("step_ms", dec["extra"].get("step_ms_at_input_size")))
        b = _base_row(tf, mf, dec["regime"], float(r["budget_s"]), epochs, step_ms, size)
        y = _finite(r.get("val_accuracy"))
        if y is None:
            k = _finite(tf.get("task_num_classes")) or 2.0
            y = 1.0 / k
        b["y"] = y
        b["group"] = str(r["task_id"])
        b["family"] = lineage_of(str(r.get("task_spec") or ""))
        b["id"] = int(r.get("id") or 0)
        b["created"] = str(r.get("created") or "")
        base_rows.append(b)
    if not base_rows:
        return pl.DataFrame({"y": [], "group": [], "family": []},
                            schema={"y": pl.Float64, "group": pl.Utf8, "family": pl.Utf8})
    frame = pl.DataFrame(base_rows, infer_schema_length=None)
    frame = derive(frame, time_model or TimeModel())
    keep = feature_columns(frame) + ["y", "group", "family", "id", "created"]
    return frame.select(keep)
