"""What a finished adapt run leaves behind: its record in the experience store (the predictor
learns from it online), its training-loss figure and its part of the run's ``manifest.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasoa.core.figures import figure, save_png
from nasoa.core.runtime import atomic_write_json, machine, versions
from nasoa.meta.descriptors import descriptor
from nasoa.meta.features import task_id
from nasoa.meta.store import RunRecord


def run_record(task, task_features: dict[str, Any], member: dict[str, Any], prep, regime, result, strategy: str,
               seed: int, run_dir: Path | None):
    """The finished run as the experience store keeps it (a :class:`nasoa.meta.store.RunRecord`)."""
    model_features = {k: v for k, v in descriptor(member).items() if k != "_machine"}
    extra = {"steps": result.steps, "epochs": result.epochs, "planned_steps": result.planned_steps,
             "step_ms": result.step_ms, "batch_size": min(regime.batch_size, prep.task.num_train),
             "predicted_s": result.predicted_s, "train_accuracy": result.train_accuracy, "machine": machine(),
             "input_size": prep.size}
    if prep.size != int(member.get("input_size") or prep.size):
        # Trained at another size than the member was profiled at: say so, and keep the step time out
        # of ``step_ms``, which the time model compares with the member's profiled step time.
        model_features["model_input_size"] = float(prep.size)
        extra["step_ms_at_input_size"] = extra.pop("step_ms")
    return RunRecord(
        task_id=task_id(task), task_spec=task.name, task_features=task_features, model_name=member["name"],
        model_features=model_features, regime=regime.to_dict(), budget_s=result.budget_s,
        val_accuracy=result.val_accuracy, elapsed_s=result.elapsed_s, diverged=result.diverged,
        stop_reason=result.stop_reason, seed=seed, versions=versions(), strategy=strategy,
        run_dir=str(run_dir) if run_dir is not None else None,
        extra=extra,
    )


def record_run(mm, task, prep, regime, result, model_name: str, strategy: str, seed: int,
               run_dir: Path | None, features: dict[str, Any] | None = None) -> int | None:
    """Append the finished run to the experience store and update the predictor online; the task's
    ``features`` are those its choice was made on (default: measured, or read from the store's cache)."""
    feats = features if features is not None else mm.task_features(task)
    rec = next(r for r in mm.records if r["name"] == model_name)
    return mm.learn(run_record(task, feats, rec, prep, regime, result, strategy, seed, run_dir))


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
