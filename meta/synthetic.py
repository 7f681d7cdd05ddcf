"""A synthetic zoo and synthetic experience with a known accuracy function.

For tests, benchmarks and demos before the real zoo exists: zoo records carry every key the real
registry has (params, MACs, source accuracy, ``train_step_ms`` per frozen stage, provenance), and
runs look like those ``nasoa meta collect`` stores, with the accuracy drawn from
:func:`true_accuracy` plus noise. This is nasoa's one known ground truth: the predictor check suite
(:mod:`nasoa.meta.checks`) learns from these runs too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .descriptors import descriptor
from .records import RunRecord

__all__ = ["synthetic_zoo", "synthetic_task_features", "synthetic_runs", "true_accuracy"]


def synthetic_zoo(n_members: int = 4, seed: int = 0, num_stages: int = 4) -> list[dict[str, Any]]:
    """Zoo records: bigger members are slower and more accurate at the source."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_members):
        size = (i + 1) / n_members
        step_full = 40.0 + 400.0 * size * float(rng.uniform(0.8, 1.2))
        out.append({
            "name": f"synth-{i:02d}",
            "family": "etnas" if i % 3 else "mobilenetv2",
            "encoding": None,
            "input_size": 32,
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
            "source": "synthetic (tests)",
            "source_accuracy": round(0.6 + 0.3 * size, 4),
            "params": int(2e5 + 5e6 * size),
            "macs": int(1e7 + 3e8 * size),
            "depth": int(10 + 40 * size),
            "width": int(64 + 512 * size),
            "train_step_ms": {str(k): round(step_full * (1 - 0.18 * k), 2) for k in range(num_stages + 1)},
            "train_step_batch": 64,
            "provenance": {"date": "2026-01-01T00:00:00+00:00", "machine": {"cpu": "synthetic", "cores": 1},
                           "versions": {}},
        })
    return out


def synthetic_task_features(index: int, seed: int = 0, zoo: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    rng = np.random.default_rng([seed, index, 7])
    k = int(rng.integers(2, 11))
    per_class = int(rng.choice([20, 50, 100, 200]))
    n = k * per_class
    difficulty = float(rng.uniform(0, 1))
    feats: dict[str, Any] = {
        "task_num_classes": float(k),
        "task_num_train": float(n),
        "task_num_train_log10": math.log10(n),
        "task_num_val": float(max(k, n // 4)),
        "task_per_class_min": float(per_class),
        "task_per_class_mean": float(per_class),
        "task_imbalance": 1.0,
        "task_native_size": 28.0,
        "task_native_channels": 1.0,
        "task_image_size": 32.0,
        "task_pixel_mean": 0.3 + 0.2 * difficulty,
        "task_pixel_std": 0.2 + 0.2 * difficulty,
        "task_pixel_entropy": 2.0,
        "task_image_contrast": 0.3,
        "task_brightness_spread": 0.05,
        "task_colourfulness": 0.0,
        "task_source": "synthetic",
        "_difficulty": difficulty,
    }
    feats["logme"] = {r["name"]: round(-1.0 + 0.5 * r["source_accuracy"] - 0.3 * difficulty, 4) for r in zoo}
    return feats


def true_accuracy(task: Mapping[str, Any], member: Mapping[str, Any], regime: Mapping[str, Any],
                  budget_s: float) -> float:
    """The known function: better members help when there is time to train them; the best lr
    depends on the optimizer and the task size; freezing helps small tasks and saves time."""
    difficulty = float(task.get("_difficulty", 0.5))
    n = float(task["task_num_train"])
    size_log = math.log10(n)
    frozen = int(regime["frozen_stages"])
    stages = max(len(member["train_step_ms"]) - 1, 1)
    step_s = float(member["train_step_ms"][str(frozen)]) / 1000.0 * float(regime.get("batch_size", 64)) / 64.0
    epochs = max(budget_s - 2.0, 0.0) / max(step_s * max(n / regime.get("batch_size", 64), 1.0), 1e-9)
    best_lr = (-1.5 if regime["optimizer"] == "sgd" else -2.5) + 0.3 * (size_log - 2.5)
    acc = (0.45 - 0.25 * difficulty + 0.35 * (float(member["source_accuracy"]) - 0.6)
           - 0.08 * (math.log10(float(regime["lr"])) - best_lr) ** 2
           + 0.05 * (frozen / stages) * (2.6 - size_log)
           + 0.12 * (1 - math.exp(-epochs / 4.0))
           + (0.01 if regime.get("schedule") == "cosine" else 0.0))
    return float(np.clip(acc, 0.02, 0.99))


def synthetic_runs(zoo: Sequence[Mapping[str, Any]], n_tasks: int, runs_per_task: int = 12, seed: int = 0,
                   budgets: Sequence[float] = (10.0, 30.0, 60.0), noise: float = 0.01, task_offset: int = 0,
                   ) -> list[RunRecord]:
    """``n_tasks`` synthetic tasks with ``runs_per_task`` runs each, as ``nasoa meta collect`` stores
    them: random member, regime and budget; accuracy :func:`true_accuracy` plus Gaussian ``noise``."""
    rng = np.random.default_rng(seed)
    lrs = (0.003, 0.01, 0.03, 0.1)
    out = []
    for t in range(task_offset, task_offset + n_tasks):
        tf = synthetic_task_features(t, seed, zoo)
        for _ in range(runs_per_task):
            m = zoo[int(rng.integers(len(zoo)))]
            stages = len(m["train_step_ms"]) - 1
            regime = {"lr": float(rng.choice(lrs)), "frozen_stages": int(rng.integers(0, stages + 1)),
                      "schedule": str(rng.choice(["cosine", "step"])), "optimizer": str(rng.choice(["sgd", "adamw"])),
                      "batch_size": 64, "epochs": None}
            budget = float(rng.choice(budgets))
            acc = true_accuracy(tf, m, regime, budget) + float(rng.normal(0, noise))
            d = {k: v for k, v in descriptor(m).items() if k != "_machine"}
            out.append(RunRecord(
                task_id=f"synthetic-{seed}-{t}", task_spec=f"synthetic:family{t % 3}/{t}", task_features=tf, model_name=m["name"],
                model_features=d, regime=regime, budget_s=budget, val_accuracy=float(np.clip(acc, 0, 1)),
                elapsed_s=budget * 0.97, seed=seed, strategy="synthetic",
            ))
    return out
