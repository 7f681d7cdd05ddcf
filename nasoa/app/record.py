"""What a finished adapt run leaves behind: its record in the experience store (the predictor
learns from it online), its training-loss figure and its part of the run's ``manifest.json``; and
how long that takes, which the next run keeps free after its training (:func:`post_reserve_s`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nasoa.core.figures import figure, save_png
from nasoa.core.profile import recent_speed_probe_ms, speed_probe_ms, speed_probe_reading
from nasoa.core.runtime import atomic_write_json, cpu_model, machine, training_threads, versions
from nasoa.meta.descriptors import descriptor
from nasoa.meta.features import task_id
from nasoa.meta.store import RunRecord

# The time kept free after training (the loss figure, the store append, the predictor's update, the
# manifest) is measured: every adapt adds what it took to a short list in the store's meta table, and
# the next one reserves a little more than the slowest recent ones on this CPU (the 90th percentile
# of the last POST_WINDOW, times POST_SAFETY, at least POST_RESERVE_MIN_S). A fixed 1.5 s left runs
# ending at 13.4 s of 15; until POST_MIN_SAMPLES runs were measured, POST_RESERVE_S stands.
POST_KEY = "adapt.post_s"
POST_WINDOW = 20
POST_MIN_SAMPLES = 3
POST_SAFETY = 1.25
POST_RESERVE_S = 1.5
POST_RESERVE_MIN_S = 0.3


def run_record(task, task_features: dict[str, Any], member: dict[str, Any], prep, regime, result, strategy: str,
               seed: int, run_dir: Path | None, choice_s: float = 0.0, cpu_share: float | None = None,
               transfer: dict[str, Any] | None = None, cpu_wait: float | None = None, reserve_s: float = 0.0):
    """The finished run as the experience store keeps it (a :class:`nasoa.meta.store.RunRecord`).
    ``choice_s``: the seconds of the budget spent before the chosen member was prepared (``nasoa
    adapt``'s loading and scoring); ``reserve_s``: the seconds kept free after training for what
    follows it (adapt's post-training reserve, :func:`post_reserve_s`); the time model learns its
    overheads from the rest only, as adapt plans over the rest.
    ``cpu_share``: the CPU the process got per wall second and thread while it prepared and trained
    the member (below :data:`nasoa.meta.timing.MIN_CPU_SHARE` the step time measures contention, and
    the time model leaves the run out). ``cpu_wait``: the share of its thread-time it waited for a
    core (:func:`nasoa.core.runtime.cpu_wait_share`), which judges contention where recorded: a run on
    several threads gets well under one core per thread without any other work.
    ``extra.input_size``: the side it ran at (the member's
    descriptor keeps the side it was profiled at; the time model scales between them).
    ``transfer``: the set-up's scoring (:func:`nasoa.app.setup_budget.setup_features`'s info), kept
    as ``extra.transfer`` for the cost model."""
    model_features = {k: v for k, v in descriptor(member).items() if k != "_machine"}
    extra = {"steps": result.steps, "epochs": result.epochs, "planned_steps": result.planned_steps,
             "step_ms": result.step_ms, "batch_size": min(regime.batch_size, prep.task.num_train),
             "predicted_s": result.predicted_s, "train_accuracy": result.train_accuracy, "machine": machine(),
             "input_size": prep.size, "choice_s": round(float(choice_s), 3), "threads": training_threads()}
    if reserve_s:
        extra["reserve_s"] = round(float(reserve_s), 3)
    if result.val_balanced_accuracy is not None and len({n for _, n in result.val_per_class if n}) > 1:
        # a val split whose classes differ in size: what its accuracy hides
        extra["val_balanced_accuracy"] = round(float(result.val_balanced_accuracy), 5)
    if cpu_share is not None:
        extra["cpu_share"] = round(float(cpu_share), 3)
    if cpu_wait is not None:
        extra["cpu_wait"] = round(float(cpu_wait), 3)
    # Measured when the time model was calibrated; a run that planned nothing (practice) records this
    # boot's recent readings instead, so that the time model knows it ran on this machine.
    probe = speed_probe_ms(measure=False) or recent_speed_probe_ms()
    if probe is not None:
        extra["speed_probe_ms"] = probe  # the median of this boot's recent readings
        raw = (speed_probe_reading() or {}).get("raw")
        if raw is not None and raw != probe:
            extra["speed_probe_raw_ms"] = raw
    if transfer and transfer.get("costs_s"):  # what scoring each member took (the set-up's cost model learns it)
        extra["transfer"] = {"images": transfer.get("images"),
                             "s": {m: c["measured"] for m, c in transfer["costs_s"].items()}}
    return RunRecord(
        task_id=task_id(task), task_spec=task.name, task_features=task_features, model_name=member["name"],
        model_features=model_features, regime=regime.to_dict(), budget_s=result.budget_s,
        val_accuracy=result.val_accuracy, elapsed_s=result.elapsed_s, diverged=result.diverged,
        stop_reason=result.stop_reason, seed=seed, versions=versions(), strategy=strategy,
        run_dir=str(run_dir) if run_dir is not None else None,
        extra=extra,
    )


def record_run(mm, task, prep, regime, result, model_name: str, strategy: str, seed: int,
               run_dir: Path | None, features: dict[str, Any] | None = None, choice_s: float = 0.0,
               cpu_share: float | None = None, transfer: dict[str, Any] | None = None,
               cpu_wait: float | None = None, reserve_s: float = 0.0) -> int | None:
    """Append the finished run to the experience store and update the predictor online; the task's
    ``features``: those measured for its choice (never imputed ones; default: read from the store's cache)."""
    feats = features if features is not None else mm.task_features(task)
    rec = next(r for r in mm.records if r["name"] == model_name)
    return mm.learn(run_record(task, feats, rec, prep, regime, result, strategy, seed, run_dir, choice_s, cpu_share,
                               transfer, cpu_wait, reserve_s))


def plot_curve(loss_curve: list[tuple[int, float]], path: Path, title: str) -> None:
    fig, ax = figure(figsize=(5, 3.2), dpi=100)
    if loss_curve:
        xs, ys = zip(*loss_curve)
        ax.plot(xs, ys, "-", lw=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    save_png(fig, path)


def add_to_run_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Add the adapt manifest (the choice and its outcome) under ``"adapt"`` to the manifest the
    trainer wrote into ``run_dir``."""
    written = json.loads((run_dir / "manifest.json").read_text())
    written["adapt"] = manifest
    atomic_write_json(run_dir / "manifest.json", written)


def _post_samples(st) -> list[dict[str, Any]]:
    try:
        values = json.loads(st.get_meta(POST_KEY) or "[]")
    except ValueError:  # a damaged entry is only a lost measurement: start the list again
        return []
    return [v for v in values if isinstance(v, dict) and isinstance(v.get("s"), (int, float))]


def post_reserve_s(st) -> float:
    """Seconds to keep free after training for what follows it, from what recent runs on this CPU
    took (see :data:`POST_KEY`); :data:`POST_RESERVE_S` without a store or enough of them."""
    if st is None:
        return POST_RESERVE_S
    cpu = cpu_model()
    took = [float(v["s"]) for v in _post_samples(st) if v.get("cpu") == cpu]
    if len(took) < POST_MIN_SAMPLES:
        return POST_RESERVE_S
    return max(POST_RESERVE_MIN_S, POST_SAFETY * float(np.quantile(took, 0.9)))


def remember_post_s(st, seconds: float) -> None:
    """Add one measurement of the post-training time to the store's short list (the last
    :data:`POST_WINDOW`)."""
    values = _post_samples(st) + [{"s": round(float(seconds), 3), "cpu": cpu_model()}]
    st.set_meta(POST_KEY, json.dumps(values[-POST_WINDOW:]))
