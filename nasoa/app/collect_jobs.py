"""The work an executor runs for an experience collection, one job at a time in a worker: a
task's features (:func:`task_features_job`) and one sampled run fine-tuned for real
(:func:`collect_run_job`). Jobs return plain data and never open the store: the driver
(:func:`nasoa.app.collect.collect`) alone writes it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasoa.app.transfer import penultimate_features
from nasoa.app.workflow import prepare_model_and_task
from nasoa.core.data import load_task
from nasoa.core.profile import speed_probe_ms
from nasoa.core.runtime import CpuMeter, machine, training_threads, versions
from nasoa.core.train import BudgetTooSmallError, Regime, finetune
from nasoa.meta.features import cached_task_features

# A worker keeps the task it last loaded: a task's runs (and its features) follow one another.
_LOADED: dict[str, Any] = {}


def _load(spec: str):
    if spec not in _LOADED:
        _LOADED.clear()
        _LOADED[spec] = load_task(spec)
    return _LOADED[spec]


def task_features_job(spec: str, members: Sequence[dict[str, Any]], logme_images: int, seed: int, pretrained: bool,
                      cached: tuple[str, dict[str, Any]] | None,
                      ) -> tuple[str, dict[str, Any], bool, str, dict[str, Any] | None]:
    """A task's meta-features with every member's transferability scores (run by an executor):
    ``(task id, features, changed, task name, scoring)``. ``cached`` is what the driver's store holds for the
    spec; only what it lacks is computed. Never opens the store.

    ``scoring``: what scoring each member took here, ``{"images": n, "s": {member: seconds}}`` (building
    it, loading its weights, its forward pass over ``n`` images, LogME and k-NN: what ``nasoa adapt``'s
    set-up records as ``extra.transfer``), or None when every score came from the cache. The driver
    keeps it on the task's first run, so the time model learns each member's scoring cost per image from
    the collection as it does from adapt's runs, and a collection on a new machine records how the
    members' forward passes there compare with their training steps."""
    task = _load(spec)
    unsaved = {cached[0]: (dict(cached[1]), spec)} if cached is not None else {}
    before = {k: json.dumps(v[0], sort_keys=True, default=str) for k, v in unsaved.items()}
    starts: list[tuple[str, float]] = []  # each member's scoring starts as the one before it ends
    images: list[int] = []

    def extract(name: str) -> tuple[np.ndarray, np.ndarray]:
        starts.append((name, time.perf_counter()))
        rec = next(m for m in members if m["name"] == name)
        f, y = penultimate_features(task, rec, logme_images, seed, pretrained=pretrained)
        images.append(len(y))
        return f, y

    tid, feats = cached_task_features(task, members=[m["name"] for m in members], extract=extract, unsaved=unsaved)
    ends = [t for _, t in starts[1:]] + [time.perf_counter()]
    scoring = ({"images": min(images), "s": {name: round(end - t, 4) for (name, t), end in zip(starts, ends)}}
               if starts and min(images) > 0 else None)
    changed = before.get(tid) != json.dumps(unsaved[tid][0], sort_keys=True, default=str) if tid in unsaved else True
    return tid, feats, changed, str(task.name), scoring


def collect_run_job(spec: str, rec: dict[str, Any], model_name: str, regime: dict[str, Any], budget: float,
                    run_seed: int, device: str, pretrained: bool, size: int | None = None) -> dict[str, Any]:
    """One sampled run, fine-tuned for real (run by an executor): its outcome as plain data, or
    ``{"skip": reason}`` when the budget cannot hold a step. The budget starts here, when the
    worker starts the run, not when the run was submitted. ``size``: the input side it runs at
    (None: the member's profiled one). Never opens the store. ``speed_probe_ms``: this machine's speed
    (:func:`nasoa.core.profile.speed_probe_ms`, measured before the budget starts), which the time
    model rescales the run's step time by on another machine."""
    probe = speed_probe_ms(max_age_s=0.0)  # at each run: its own conditions
    meter = CpuMeter()
    start = meter.t0  # the budget and the CPU measurement start together
    task = _load(spec)
    reg = Regime.from_dict(regime)
    threads = training_threads(refresh=True)  # the cores free for this run now
    try:
        prep = prepare_model_and_task(task.name, model_name, seed=run_seed, pretrained=pretrained,
                                      size=size or int(rec.get("input_size") or 32), device=device, task=task)
        result = finetune(prep.model, prep.task, reg, budget, seed=run_seed, start_time=start,
                          device=prep.device, mean=tuple(rec.get("mean", prep.mean)),
                          std=tuple(rec.get("std", prep.std)), hflip=prep.hflip, progress=False)
    except BudgetTooSmallError as e:
        return {"skip": str(e)}
    # A run that shared its cores with other work: its accuracy understates the budget (CpuMeter).
    wall = max(time.time() - start, 1e-6)
    cpu_share, cpu_wait = meter.read(threads)
    return {
        "model_name": rec["name"], "task_spec": task.name, "regime": reg.to_dict(), "val_accuracy": result.val_accuracy,
        "elapsed_s": result.elapsed_s, "diverged": result.diverged, "stop_reason": result.stop_reason,
        "seed": run_seed, "versions": versions(), "machine": machine(), "threads": threads, "input_size": prep.size,
        "cpu_share": round(cpu_share, 3), "cpu_wait": None if cpu_wait is None else round(cpu_wait, 3),
        "loadavg": round(os.getloadavg()[0], 2), "wall_s": wall, "speed_probe_ms": probe,
        "extra": {"steps": result.steps, "epochs": result.epochs, "planned_steps": result.planned_steps,
                  "step_ms": result.step_ms, "batch_size": min(reg.batch_size, task.num_train),
                  "predicted_s": result.predicted_s, "train_accuracy": result.train_accuracy,
                  "val_loss": result.val_loss},
    }
