"""The time-budgeted fine-tuning engine: ``finetune(model, task, regime, budget_s) -> TrainResult``.

The budget is a deadline measured from ``start_time`` (the command's start), and it covers data
loading, calibration, training, the final evaluation and saving. The engine

1. warms up and measures its step time on the first iterations, and times one evaluation batch
   warm, relative to a training step,
2. plans how many steps fit before the deadline less a reserve for evaluation and saving (both
   measured or estimated from measured speeds), and shapes the learning-rate schedule to that many
   steps, so a cosine reaches zero when the budget ends,
3. re-plans at every step from the recent step times (the reserve too: evaluation slows down with
   training when other work shares the cores) and trains until the planned stop, however the
   machine's speed changes (:class:`nasoa.core.deadline.StepPlanner`),
4. evaluates, saves weights (safetensors) and a JSON manifest atomically, and reports predicted vs
   actual time.

Every other part of nasoa measures through this engine: NAS proxy training, zoo pretraining, the
meta-dataset and ``nasoa adapt``.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from nasoa.core.deadline import StepPlanner
from nasoa.core.deadline import margin_s as default_margin_s
from nasoa.core.errors import BudgetTooSmallError, NasoaError
from nasoa.core.runtime import atomic_write_bytes, atomic_write_json, configure_torch_threads, machine, utc_now, versions

__all__ = ["Regime", "TrainResult", "BudgetTooSmallError", "finetune", "evaluate", "SCHEDULES", "OPTIMIZERS"]

SCHEDULES = ("cosine", "step", "constant")
OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class Regime:
    """How to fine-tune: everything the meta-learner may choose, and nothing else.

    ``frozen_stages=k`` freezes the stem and the first k stages (their BatchNorm in eval mode);
    0 trains everything. ``epochs=None`` fills the budget; a number caps training at that many
    epochs (it may then finish early). ``warmup`` is the fraction of planned steps with a linear
    warm-up.
    """

    lr: float = 0.01
    frozen_stages: int = 0
    schedule: str = "cosine"
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    momentum: float = 0.9
    batch_size: int = 64
    label_smoothing: float = 0.0
    warmup: float = 0.03
    epochs: float | None = None
    augment: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not (0 < self.lr < 10):
            problems.append(f"lr {self.lr} must be in (0, 10)")
        if self.frozen_stages < 0:
            problems.append(f"frozen_stages {self.frozen_stages} must be >= 0")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule {self.schedule!r} must be one of {', '.join(SCHEDULES)}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer {self.optimizer!r} must be one of {', '.join(OPTIMIZERS)}")
        if self.batch_size < 1:
            problems.append(f"batch_size {self.batch_size} must be >= 1")
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing {self.label_smoothing} must be in [0, 1)")
        if not 0 <= self.warmup < 1:
            problems.append(f"warmup {self.warmup} must be in [0, 1)")
        if self.weight_decay < 0:
            problems.append(f"weight_decay {self.weight_decay} must be >= 0")
        if self.epochs is not None and not self.epochs > 0:
            problems.append(f"epochs {self.epochs} must be > 0 (or None to fill the budget)")
        if problems:
            raise NasoaError("bad regime: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Regime":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def lr_at(self, progress: float) -> float:
        """Learning rate at ``progress`` in [0, 1] of the planned steps."""
        p = min(max(progress, 0.0), 1.0)
        if self.warmup > 0 and p < self.warmup:
            return self.lr * (0.1 + 0.9 * p / self.warmup)
        q = (p - self.warmup) / (1 - self.warmup) if self.warmup < 1 else 1.0
        if self.schedule == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * q))
        if self.schedule == "step":  # x0.1 at 50% and again at 75% of the post-warm-up steps
            return self.lr * (0.1 ** (int(q >= 0.5) + int(q >= 0.75)))
        return self.lr


@dataclass
class TrainResult:
    """What a fine-tuning run measured. Times in seconds, accuracies in [0, 1]."""

    val_accuracy: float
    val_loss: float
    train_accuracy: float
    steps: int
    epochs: float
    planned_steps: int
    budget_s: float
    elapsed_s: float
    predicted_s: float
    step_ms: float
    images_per_s: float
    diverged: bool
    stop_reason: str  # planned | epochs | deadline | diverged | interrupted
    timings: dict[str, float] = field(default_factory=dict)
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    run_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------


def _freeze(model, frozen_stages: int) -> list:
    """Freeze the stem and the first ``frozen_stages`` stages; returns the frozen modules."""
    if frozen_stages == 0:
        return []
    if not hasattr(model, "frozen_modules"):
        raise NasoaError(
            f"{type(model).__name__} has no stages to freeze; use frozen_stages=0 or a model from `nasoa zoo list`"
        )
    try:
        modules = model.frozen_modules(frozen_stages)
    except ValueError as e:
        raise NasoaError(f"{e}; pick a smaller --frozen-stages") from None
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(False)
    return modules


def _set_train_mode(model, frozen: list) -> None:
    model.train()
    for m in frozen:
        m.eval()  # frozen BatchNorm keeps its running statistics


def _make_optimizer(model, regime: Regime):
    """SGD (Nesterov momentum) or AdamW; no weight decay on BatchNorm/bias parameters."""
    from nasoa.core import optim

    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": regime.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if regime.optimizer == "sgd":
        return optim.SGD(groups, lr=regime.lr, momentum=regime.momentum, nesterov=regime.momentum > 0)
    return optim.AdamW(groups, lr=regime.lr, weight_decay=regime.weight_decay)


def evaluate(model, batches, device, memory_format=None) -> tuple[float, float, int]:
    """Top-1 accuracy, mean loss and count over an iterable of (x, y) batches."""
    import torch
    import torch.nn.functional as F

    was_training = model.training
    model.eval()
    correct = 0
    total = 0
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct_t = torch.zeros((), dtype=torch.int64, device=device)
    with torch.inference_mode():
        for x, y in batches:
            x = x.to(device, non_blocking=True)
            if memory_format is not None:
                x = x.contiguous(memory_format=memory_format)
            y = y.to(device, non_blocking=True)
            out = model(x).float()
            loss_sum += F.cross_entropy(out, y, reduction="sum").double()
            correct_t += (out.argmax(1) == y).sum()
            total += len(y)
    model.train(was_training)
    correct = int(correct_t.item())
    if total == 0:
        return 0.0, float("nan"), 0
    return correct / total, float(loss_sum.item()) / total, total


def _state_tensors(model, optimizer) -> dict:
    """Model and optimizer tensors for a resumable checkpoint, as a flat safetensors dict."""
    out = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    out.update({f"optim.{k}": v.detach().contiguous().cpu() for k, v in optimizer.state_tensors().items()})
    return out


def _load_state_tensors(model, optimizer, tensors: dict) -> None:
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_tensors({k[len("optim.") :]: v for k, v in tensors.items() if k.startswith("optim.")})


def save_weights(model, path: Path, metadata: dict[str, str] | None = None) -> int:
    """Write the model's state_dict as safetensors atomically; returns the bytes written."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    data = save(tensors, metadata=metadata)
    atomic_write_bytes(Path(path), data)
    return len(data)


def _param_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


# --------------------------------------------------------------------------------------------------


@dataclass
class _Clock:
    start: float
    budget_s: float

    @property
    def deadline(self) -> float:
        return self.start + self.budget_s

    def elapsed(self) -> float:
        return time.time() - self.start

    def left(self) -> float:
        return self.deadline - time.time()


def finetune(
    model,
    task,
    regime: Regime,
    budget_s: float,
    *,
    seed: int = 0,
    start_time: float | None = None,
    device: str = "cpu",
    mean: tuple[float, ...] = (0.5, 0.5, 0.5),
    std: tuple[float, ...] = (0.5, 0.5, 0.5),
    hflip: bool = True,
    run_dir: str | Path | None = None,
    manifest_extra: dict[str, Any] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    on_step: Callable[[int, float], None] | None = None,
    margin_s: float | None = None,
    memory_format: str = "auto",
    expected_step_s: float | None = None,
) -> TrainResult:
    """Fine-tune ``model`` on ``task`` (a :class:`nasoa.core.data.TaskData` already at the model's input
    size) with ``regime``, finishing evaluation and saving before ``start_time + budget_s``.

    Args:
        model: an ``nn.Module`` whose head already has ``task.num_classes`` outputs.
        task: the data; ``x_train``/``x_val`` uint8 tensors at the input size.
        regime: see :class:`Regime`.
        budget_s: the wall-clock budget, measured from ``start_time`` (default: now).
        seed: drives initialisation (by the caller), batch order and augmentation.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        mean, std: input normalisation (per channel, after grey is expanded to 3 channels).
        hflip: allow horizontal flips in the augmentation (off for digits and text).
        run_dir: where to write ``model.safetensors``, ``state.safetensors`` (resume),
            ``classes.json`` and ``manifest.json``; None writes nothing.
        resume: continue from the checkpoint in ``run_dir`` (steps, optimizer, schedule).
        progress: show a rich progress bar (default: when stderr is a terminal).
        margin_s: safety margin kept free before the deadline (default :func:`nasoa.core.deadline.margin_s`).
        expected_step_s: the time model's step time for this regime here (seconds), if known: it
            bounds the first, cold step's time as the estimate of the next until a warm step is seen.
        memory_format: ``auto`` (channels_last), ``channels_last`` or ``contiguous``.
    """
    import torch
    import torch.nn.functional as F

    from nasoa.core.cpu_safe import avoid_onednn_crashes
    from nasoa.core.data import Batches

    clock = _Clock(start_time if start_time is not None else time.time(), float(budget_s))
    timings: dict[str, float] = {"before_setup": clock.elapsed()}
    if task.num_classes < 2:
        raise NasoaError(f"the task has {task.num_classes} class; fine-tuning needs at least 2")
    configure_torch_threads()
    dev = torch.device(device)
    mf = None if memory_format == "contiguous" else torch.channels_last
    run_path = Path(run_dir) if run_dir is not None else None
    margin = margin_s if margin_s is not None else default_margin_s(budget_s)

    t = time.time()
    torch.manual_seed(seed)
    frozen = _freeze(model, regime.frozen_stages)
    model.to(dev)
    if mf is not None:
        model.to(memory_format=mf)
    if dev.type == "cpu":
        avoid_onednn_crashes(model)  # strided 1x1 conv backward can crash oneDNN (uxlfoundation/oneDNN#6035)
    _set_train_mode(model, frozen)
    optimizer = _make_optimizer(model, regime)
    bs = min(regime.batch_size, task.num_train)
    train_batches = Batches(
        task.x_train, task.y_train, batch_size=bs, shuffle=True, augment=regime.augment, seed=seed,
        mean=mean, std=std, channels=3, drop_last=task.num_train >= 2 * bs, hflip=hflip, channels_last=mf is not None,
    )
    val_batches = Batches(
        task.x_val, task.y_val, batch_size=256, shuffle=False, augment=False, seed=seed,
        mean=mean, std=std, channels=3, drop_last=False, channels_last=mf is not None,
    )
    steps_per_epoch = len(train_batches)
    step = 0
    loss_curve: list[tuple[int, float]] = []
    if resume:
        if run_path is None or not (run_path / "state.safetensors").exists():
            raise NasoaError(f"nothing to resume in {run_path}: it has no state.safetensors; run without --resume")
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            _load_state_tensors(model, optimizer, load_file(run_path / "state.safetensors"))
            import json

            prev = json.loads((run_path / "manifest.json").read_text())
        except (SafetensorError, OSError, ValueError, KeyError, RuntimeError) as e:
            raise NasoaError(f"cannot resume from {run_path}: {str(e).splitlines()[0]}; start a new run dir") from None
        step = int(prev["result"]["steps"])
        loss_curve = [tuple(x) for x in prev["result"].get("loss_curve", [])]
    timings["setup"] = time.time() - t

    # Reserve for the final evaluation (timed on one val batch below, then warm) and saving.
    save_est = 0.05 + 3 * _param_bytes(model) / 200e6 if run_path is not None else 0.0
    n_val_batches = len(val_batches)
    max_steps_by_epochs = math.ceil(regime.epochs * steps_per_epoch) if regime.epochs else None
    planner = StepPlanner(clock.start, clock.budget_s, margin=margin, save_s=save_est, eval_batches=n_val_batches,
                          max_steps=max_steps_by_epochs, prior_step_s=expected_step_s)

    show = progress if progress is not None else _stderr_is_tty()
    bar = _Progress(show, clock, task.name if hasattr(task, "name") else "task")

    diverged = False
    stop_reason = "planned"
    seen = 0
    correct_sum = torch.zeros((), dtype=torch.int64, device=dev)
    count_sum = 0
    lr = regime.lr_at(0.0)
    eval_warm_done = n_val_batches == 0

    def batch_stream():
        epoch, skip = divmod(step, steps_per_epoch)
        while True:
            yield from train_batches.epoch(epoch, start=skip)
            epoch, skip = epoch + 1, 0

    def time_eval_batch() -> float:
        tv = time.time()
        xv, _ = next(iter(val_batches.epoch(0)))
        with torch.inference_mode():
            model.eval()
            model(xv.to(dev).contiguous(memory_format=mf) if mf else xv.to(dev))
            _set_train_mode(model, frozen)
        return time.time() - tv

    stream = batch_stream()
    t_train = time.time()
    try:
        bar.start()
        # Time one evaluation batch first: it warms up the forward path and sizes the reserve.
        one = 0.05
        if n_val_batches:
            one = time_eval_batch()
            planner.set_eval_cold(one)
        reserve = planner.reserve()
        min_needed = clock.elapsed() + reserve + 2 * max(one, 0.05)
        if clock.left() < reserve:
            raise BudgetTooSmallError(
                f"a budget of {budget_s:.0f}s is too small for this task and model: loading took "
                f"{clock.elapsed():.1f}s and evaluation + saving need about {reserve:.1f}s; "
                f"use --budget {math.ceil(min_needed * 1.5)}s or more",
                minimum_s=min_needed,
            )
        if run_path is not None and not resume:
            # Marked until the run finishes: a run killed from here on leaves a dir that says so.
            run_path.mkdir(parents=True, exist_ok=True)
            atomic_write_json(run_path / "manifest.json", {"kind": "nasoa.core.train", "status": "running",
                                                           "created": utc_now(), "seed": seed,
                                                           "task": {"name": getattr(task, "name", None)},
                                                           "regime": regime.to_dict(), "budget_s": budget_s})
        while True:
            now = time.time()
            why = planner.stop(now, step)
            if why is not None:
                stop_reason = why
                break
            x, y = next(stream)
            x = x.to(dev, non_blocking=True)
            if mf is not None:
                x = x.contiguous(memory_format=mf)
            y = y.to(dev, non_blocking=True)
            lr = regime.lr_at(planner.progress(step))
            for g in optimizer.param_groups:
                g["lr"] = lr
            out = model(x)
            loss = F.cross_entropy(out, y, label_smoothing=regime.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seen += len(y)
            correct_sum += (out.detach().argmax(1) == y).sum()
            count_sum += len(y)
            calib_steps = planner.calib_steps
            # One host sync per step on CPU costs nothing; on a GPU read the loss every 10 steps.
            lv = float("nan")
            if dev.type == "cpu" or step % 10 == 0 or len(planner.step_times) < calib_steps:
                lv = float(loss.item())
                if not math.isfinite(lv):
                    diverged = True
                    stop_reason = "diverged"
                    loss_curve.append((step, lv))
                    break
                if step % max(1, steps_per_epoch // 4) == 0 or len(planner.step_times) < calib_steps:
                    loss_curve.append((step, round(lv, 5)))
            if on_step is not None:
                on_step(step, lv)
            bar.update(step, planner.planned, loss_curve[-1][1] if loss_curve else float("nan"),
                       int(correct_sum.item()) / max(1, count_sum) if step % 5 == 0 else None)
            # A step's time is the whole iteration (batch, step, callbacks): what the next one costs.
            t_now = time.time()
            first_plan = planner.planned is None
            planner.observe(step, t_now - now, t_now)
            if first_plan and planner.planned is not None:
                timings["calibration_step_ms"] = planner.step_s() * 1000
            if not eval_warm_done and planner.planned is not None:
                # Evaluation's share of a training step, timed warm: the reserve follows the machine.
                planner.set_eval_warm(time_eval_batch())
                eval_warm_done = True
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        bar.stop()
    timings["planned_stop_s"] = round(planner.train_until() - clock.start, 3)
    timings["stop_s"] = round(clock.elapsed(), 3)
    timings["train"] = time.time() - t_train

    t = time.time()
    val_acc, val_loss, _ = evaluate(model, val_batches.epoch(0), dev, mf) if stop_reason != "interrupted" else (
        float("nan"), float("nan"), 0)
    timings["eval"] = time.time() - t
    train_acc = int(correct_sum.item()) / max(1, count_sum)
    step_times = planner.step_times
    step_ms = 1000 * statistics.median(step_times[1:] or step_times) if step_times else float("nan")
    train_s = sum(step_times)
    result = TrainResult(
        val_accuracy=val_acc,
        val_loss=val_loss,
        train_accuracy=train_acc,
        steps=step,
        epochs=round(step / steps_per_epoch, 3),
        planned_steps=planner.planned or step,
        budget_s=budget_s,
        elapsed_s=float("nan"),
        predicted_s=planner.predicted_total_s,
        step_ms=step_ms,
        images_per_s=seen / train_s if train_s > 0 else 0.0,
        diverged=diverged,
        stop_reason=stop_reason,
        timings=timings,
        loss_curve=loss_curve,
        run_dir=str(run_path) if run_path else None,
    )
    if run_path is not None:
        t = time.time()
        run_path.mkdir(parents=True, exist_ok=True)
        from safetensors.torch import save

        meta = {"encoding": str(getattr(model, "encoding", "")), "num_classes": str(task.num_classes)}
        save_weights(model, run_path / "model.safetensors", meta)
        atomic_write_bytes(run_path / "state.safetensors", save(_state_tensors(model, optimizer)))
        atomic_write_json(run_path / "classes.json", list(task.classes))
        timings["save"] = time.time() - t
        result.elapsed_s = clock.elapsed()
        write_manifest(run_path, task, regime, result, seed, manifest_extra)
    result.elapsed_s = clock.elapsed()
    if stop_reason == "interrupted":
        raise KeyboardInterrupt
    return result


def write_manifest(run_path: Path, task, regime: Regime, result: TrainResult, seed: int, extra: dict | None) -> dict:
    """The run's JSON manifest: inputs, choices, versions, seed, timings, results."""
    manifest = {
        "kind": "nasoa.core.train",
        "status": "interrupted" if result.stop_reason == "interrupted" else ("diverged" if result.diverged else "done"),
        "created": utc_now(),
        "seed": seed,
        "task": {
            "name": getattr(task, "name", None),
            "source": getattr(task, "source", None),
            "num_classes": task.num_classes,
            "num_train": task.num_train,
            "num_val": task.num_val,
            "image_size": task.image_size,
            "classes": list(task.classes),
        },
        "regime": regime.to_dict(),
        "result": result.to_dict(),
        "versions": versions(),
        "machine": machine(),
    }
    if extra:
        manifest.update(extra)
    atomic_write_json(run_path / "manifest.json", manifest)
    return manifest


def _stderr_is_tty() -> bool:
    import sys

    return sys.stderr.isatty()


class _Progress:
    """A rich progress bar with elapsed vs budget, loss and running train accuracy (stderr only)."""

    def __init__(self, enabled: bool, clock: _Clock, title: str):
        self.enabled = enabled
        self.clock = clock
        self.title = title
        self._p = None
        self._last = 0.0
        self._acc = float("nan")

    def start(self) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._p = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[time]}"),
            TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("train acc {task.fields[acc]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._p.start()
        self._task = self._p.add_task(self.title, total=1, time="", loss="-", acc="-")

    def update(self, step: int, planned: int | None, loss: float, acc: float | None) -> None:
        if self._p is None:
            return
        now = time.time()
        if now - self._last < 0.2:
            return
        self._last = now
        if acc is not None:
            self._acc = acc
        self._p.update(
            self._task,
            completed=step,
            total=max(planned or step + 1, step),
            time=f"{self.clock.elapsed():.1f}s / {self.clock.budget_s:.0f}s",
            loss=f"{loss:.3f}",
            acc=f"{self._acc:.3f}",
        )

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None


__all__ += ["save_weights", "write_manifest"]
