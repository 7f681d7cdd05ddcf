"""The time-budgeted fine-tuning loop: ``finetune(model, task, regime, budget_s) -> TrainResult``.

The budget is a deadline measured from ``start_time`` (the command's start), and it covers data
loading, calibration, training, the final evaluation and saving. :func:`finetune` runs these steps:

1. set-up (:func:`_set_up`) and, with ``resume``, the checkpoint (:mod:`nasoa.core.train.checkpoint`);
2. the reserve (:func:`_reserve`): one evaluation batch is timed before training, which warms up
   the forward path and sizes the reserve for evaluation and saving; a budget that cannot hold it
   is refused (:class:`BudgetTooSmallError`);
3. the epoch loop (:func:`_train`): warm-up and calibration on the first steps, then re-planning at
   every step from the recent step times (:func:`_replan`, :class:`nasoa.core.deadline.StepPlanner`:
   the reserve too, as evaluation slows down with training when other work shares the cores), so
   training stops at the planned stop however the machine's speed changes, and the learning-rate
   schedule spans the planned steps (a cosine reaches zero when the budget ends);
4. evaluation (:func:`_result`), then saving weights (safetensors) and a JSON manifest atomically,
   reporting predicted vs actual time.

Every other part of nasoa measures through this engine: NAS proxy training, zoo pretraining, the
meta-dataset and ``nasoa adapt``. torch is imported inside the functions that use it, so importing
the trainer stays fast (``nasoa --help`` imports no torch).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from nasoa.core.deadline import StepPlanner
from nasoa.core.deadline import margin_s as default_margin_s
from nasoa.core.errors import BudgetTooSmallError, NasoaError
from nasoa.core.runtime import configure_torch_threads
from nasoa.core.train.calibrate import calibration
from nasoa.core.train.checkpoint import load_checkpoint, mark_running, save_checkpoint, save_s_estimate, write_manifest
from nasoa.core.train.precision import Precision, resolve_precision
from nasoa.core.train.progress import Progress, stderr_is_tty
from nasoa.core.train.regime import Regime, TrainResult

__all__ = ["finetune", "evaluate"]


@dataclass
class _Clock:
    """The budget as a deadline: ``budget_s`` seconds from ``start`` (``time.time()`` scale)."""

    start: float
    budget_s: float

    @property
    def deadline(self) -> float:
        return self.start + self.budget_s

    def elapsed(self) -> float:
        return time.time() - self.start

    def left(self) -> float:
        return self.deadline - time.time()


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
    from nasoa.core import optim  # lazy: torch; importing nasoa.core.train stays light

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
    acc, loss, n, _ = evaluate_by_class(model, batches, device, memory_format)
    return acc, loss, n


def evaluate_by_class(model, batches, device, memory_format=None,
                      outputs: list | None = None) -> tuple[float, float, int, list[tuple[int, int]]]:
    """:func:`evaluate`, plus ``(right, of)`` for each of the head's classes (label order; a class
    without an image counts ``(0, 0)``), from which :func:`balanced_accuracy` is read. With
    ``outputs`` (a list), each batch's ``(logits, labels)`` is appended to it, on the device."""
    import torch  # lazy: torch; importing nasoa.core.train stays light
    import torch.nn.functional as F  # lazy: torch; importing nasoa.core.train stays light

    was_training = model.training
    model.eval()
    total = 0
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    right_t = count_t = None
    with torch.inference_mode():
        for x, y in batches:
            x = x.to(device, non_blocking=True)
            if memory_format is not None:
                x = x.contiguous(memory_format=memory_format)
            y = y.to(device, non_blocking=True)
            out = model(x).float()
            if outputs is not None:
                outputs.append((out, y))
            loss_sum += F.cross_entropy(out, y, reduction="sum").double()
            if right_t is None:
                right_t = torch.zeros(out.shape[1], dtype=torch.int64, device=device)
                count_t = torch.zeros(out.shape[1], dtype=torch.int64, device=device)
            hit = (out.argmax(1) == y).long()
            right_t.index_add_(0, y, hit)
            count_t.index_add_(0, y, torch.ones_like(hit))
            total += len(y)
    model.train(was_training)
    if total == 0:
        return 0.0, float("nan"), 0, []
    per_class = list(zip(right_t.tolist(), count_t.tolist()))
    return sum(r for r, _ in per_class) / total, float(loss_sum.item()) / total, total, per_class


def balanced_accuracy(per_class: list[tuple[int, int]]) -> float:
    """The mean recall over the classes that have images (scikit-learn's ``balanced_accuracy_score``):
    on an imbalanced split, what accuracy would be if every class counted alike; nan without images."""
    recalls = [r / n for r, n in per_class if n]
    return sum(recalls) / len(recalls) if recalls else float("nan")


# -- the steps of finetune ------------------------------------------------------------------------


@dataclass
class _Setup:
    """The model's device and memory format, its frozen modules, its optimizer and its batches."""

    device: Any  # torch.device
    memory_format: Any  # torch.channels_last, or None (contiguous)
    frozen: list
    optimizer: Any
    train_batches: Any  # nasoa.core.data.Batches
    val_batches: Any
    precision: Precision  # the training step's arithmetic (evaluation stays fp32)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_batches)

    def to_device(self, x):
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=self.memory_format) if self.memory_format is not None else x


@dataclass
class _LoopState:
    """What the training loop has done so far; kept as it is when the loop is interrupted."""

    step: int
    loss_curve: list[tuple[int, float]]
    correct: Any  # correct training predictions: a device tensor, read only now and then
    seen: int = 0  # training images seen (this run, not before a resume)
    diverged: bool = False
    stop_reason: str = "planned"
    eval_warm_done: bool = False

    def train_accuracy(self) -> float:
        return int(self.correct.item()) / max(1, self.seen)


def _set_up(model, task, regime: Regime, *, seed: int, device: str, mean, std, hflip: bool,
            memory_format: str, precision: str = "fp32") -> _Setup:
    """Seed, freeze, move the model to its device and memory format, and build its optimizer and batches."""
    import torch  # lazy: torch; importing nasoa.core.train stays light

    from nasoa.core.cpu_safe import avoid_onednn_crashes  # lazy: torch; importing nasoa.core.train stays light
    from nasoa.core.data import Batches  # lazy: torch; importing nasoa.core.train stays light

    dev = torch.device(device)
    prec = resolve_precision(precision, dev)
    mf = None if memory_format == "contiguous" else torch.channels_last
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
    return _Setup(dev, mf, frozen, optimizer, train_batches, val_batches, prec)


def _time_eval_batch(model, setup: _Setup) -> float:
    """Seconds of one evaluation batch's forward pass (the model goes back to training mode)."""
    import torch  # lazy: torch; importing nasoa.core.train stays light

    mf = setup.memory_format
    tv = time.time()
    xv, _ = next(iter(setup.val_batches.epoch(0)))
    with torch.inference_mode():
        model.eval()
        model(xv.to(setup.device).contiguous(memory_format=mf) if mf else xv.to(setup.device))
        _set_train_mode(model, setup.frozen)
    return time.time() - tv


def _reserve(model, setup: _Setup, planner: StepPlanner, clock: _Clock, budget_s: float) -> None:
    """Time one evaluation batch first (it warms up the forward path and sizes the reserve for
    evaluation and saving), and refuse a budget that cannot hold that reserve."""
    one = 0.05
    if len(setup.val_batches):
        one = _time_eval_batch(model, setup)
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


def _batch_stream(train_batches, step: int) -> Iterator:
    """Training batches from ``step`` on (a resumed run goes on where it stopped), epoch after epoch."""
    epoch, skip = divmod(step, len(train_batches))
    while True:
        yield from train_batches.epoch(epoch, start=skip)
        epoch, skip = epoch + 1, 0


def _train_step(model, regime: Regime, setup: _Setup, planner: StepPlanner, state: _LoopState, x, y):
    """One optimizer step at the schedule's learning rate; returns the loss (a device tensor)."""
    import torch.nn.functional as F  # lazy: torch; importing nasoa.core.train stays light

    x = setup.to_device(x)
    y = y.to(setup.device, non_blocking=True)
    lr = regime.lr_at(planner.progress(state.step))
    for g in setup.optimizer.param_groups:
        g["lr"] = lr
    with setup.precision.autocast():
        out = model(x)
    # The loss in fp32 whatever the forward pass ran in (a no-op in fp32).
    loss = F.cross_entropy(out.float(), y, label_smoothing=regime.label_smoothing)
    setup.optimizer.zero_grad(set_to_none=True)
    setup.precision.backward_and_step(loss, setup.optimizer)
    state.step += 1
    state.seen += len(y)
    state.correct += (out.detach().argmax(1) == y).sum()
    return loss


def _record_loss(loss, setup: _Setup, planner: StepPlanner, state: _LoopState) -> float:
    """Read the loss where that is cheap, keep it on the loss curve now and then, and mark a
    divergence; returns the loss read (nan when it was not read this step)."""
    calib_steps = planner.calib_steps
    # One host sync per step on CPU costs nothing; on a GPU read the loss every 10 steps.
    if not (setup.device.type == "cpu" or state.step % 10 == 0 or len(planner.step_times) < calib_steps):
        return float("nan")
    lv = float(loss.item())
    if not math.isfinite(lv):
        state.diverged = True
        state.stop_reason = "diverged"
        state.loss_curve.append((state.step, lv))
    elif state.step % max(1, setup.steps_per_epoch // 4) == 0 or len(planner.step_times) < calib_steps:
        state.loss_curve.append((state.step, round(lv, 5)))
    return lv


def _replan(model, setup: _Setup, planner: StepPlanner, state: _LoopState, timings: dict[str, float],
            step_s: float, now: float) -> None:
    """Tell the planner the step's time (it re-plans); once calibrated, time one evaluation batch warm."""
    first_plan = planner.planned is None
    planner.observe(state.step, step_s, now)
    if first_plan and planner.planned is not None:
        timings["calibration_step_ms"] = planner.step_s() * 1000
    if not state.eval_warm_done and planner.planned is not None:
        # Evaluation's share of a training step, timed warm: the reserve follows the machine.
        planner.set_eval_warm(_time_eval_batch(model, setup))
        state.eval_warm_done = True


def _train(model, regime: Regime, setup: _Setup, planner: StepPlanner, state: _LoopState, bar: Progress,
           timings: dict[str, float], on_step: Callable[[int, float], None] | None) -> None:
    """The epoch loop: train until the planner says stop or the loss diverges."""
    stream = _batch_stream(setup.train_batches, state.step)
    while True:
        now = time.time()
        why = planner.stop(now, state.step)
        if why is not None:
            state.stop_reason = why
            return
        x, y = next(stream)
        loss = _train_step(model, regime, setup, planner, state, x, y)
        lv = _record_loss(loss, setup, planner, state)
        if state.diverged:
            return
        if on_step is not None:
            on_step(state.step, lv)
        bar.update(state.step, planner.planned, state.loss_curve[-1][1] if state.loss_curve else float("nan"),
                   state.train_accuracy() if state.step % 5 == 0 else None)
        # A step's time is the whole iteration (batch, step, callbacks): what the next one costs.
        t_now = time.time()
        _replan(model, setup, planner, state, timings, t_now - now, t_now)


def _result(model, setup: _Setup, planner: StepPlanner, state: _LoopState, budget_s: float,
            timings: dict[str, float], run_path: Path | None) -> TrainResult:
    """Evaluate (not after an interruption) and gather what the run measured; ``elapsed_s`` is set
    by the caller once saving is done."""
    import torch  # lazy: torch; importing nasoa.core.train stays light

    t = time.time()
    outputs: list = []
    val_acc, val_loss, _, per_class = evaluate_by_class(
        model, setup.val_batches.epoch(0), setup.device, setup.memory_format, outputs) if (
        state.stop_reason != "interrupted") else (float("nan"), float("nan"), 0, [])
    timings["eval"] = time.time() - t
    calib = None
    if outputs and not state.diverged:
        t = time.time()
        calib = calibration(torch.cat([o for o, _ in outputs]), torch.cat([y for _, y in outputs]))
        timings["calibrate"] = time.time() - t
    step_times = planner.step_times
    step_ms = 1000 * statistics.median(step_times[1:] or step_times) if step_times else float("nan")
    train_s = sum(step_times)
    return TrainResult(
        val_accuracy=val_acc,
        val_loss=val_loss,
        train_accuracy=state.train_accuracy(),
        steps=state.step,
        epochs=round(state.step / setup.steps_per_epoch, 3),
        planned_steps=planner.planned or state.step,
        budget_s=budget_s,
        elapsed_s=float("nan"),
        predicted_s=planner.predicted_total_s,
        step_ms=step_ms,
        images_per_s=state.seen / train_s if train_s > 0 else 0.0,
        diverged=state.diverged,
        stop_reason=state.stop_reason,
        timings=timings,
        loss_curve=state.loss_curve,
        run_dir=str(run_path) if run_path else None,
        val_balanced_accuracy=balanced_accuracy(per_class) if per_class else None,
        val_per_class=[list(rc) for rc in per_class],
        calibration=calib,
        precision=setup.precision.describe(),
    )


def _save(run_path: Path, model, setup: _Setup, task, regime: Regime, result: TrainResult, seed: int,
          clock: _Clock, manifest_extra: dict[str, Any] | None) -> None:
    """Weights, resumable state and class names, then the manifest (with the time saving took)."""
    t = time.time()
    save_checkpoint(run_path, model, setup.optimizer, task)
    result.timings["save"] = time.time() - t
    result.elapsed_s = clock.elapsed()
    write_manifest(run_path, task, regime, result, seed, manifest_extra)


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
    precision: str = "fp32",
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
        precision: the training step's arithmetic, ``fp32``, ``bf16`` or ``fp16`` (CUDA)
            (:mod:`nasoa.core.train.precision`); evaluation and the saved weights stay fp32.
    """
    import torch  # lazy: torch; importing nasoa.core.train stays light

    clock = _Clock(start_time if start_time is not None else time.time(), float(budget_s))
    timings: dict[str, float] = {"before_setup": clock.elapsed()}
    if task.num_classes < 2:
        raise NasoaError(f"the task has {task.num_classes} class; fine-tuning needs at least 2")
    configure_torch_threads()
    run_path = Path(run_dir) if run_dir is not None else None
    margin = margin_s if margin_s is not None else default_margin_s(budget_s)

    t = time.time()
    setup = _set_up(model, task, regime, seed=seed, device=device, mean=mean, std=std, hflip=hflip,
                    memory_format=memory_format, precision=precision)
    step, loss_curve = load_checkpoint(run_path, model, setup.optimizer) if resume else (0, [])
    timings["setup"] = time.time() - t

    max_steps_by_epochs = math.ceil(regime.epochs * setup.steps_per_epoch) if regime.epochs else None
    planner = StepPlanner(clock.start, clock.budget_s, margin=margin,
                          save_s=save_s_estimate(model) if run_path is not None else 0.0,
                          eval_batches=len(setup.val_batches), max_steps=max_steps_by_epochs,
                          prior_step_s=expected_step_s)
    state = _LoopState(step, loss_curve, torch.zeros((), dtype=torch.int64, device=setup.device),
                       eval_warm_done=len(setup.val_batches) == 0)
    show = progress if progress is not None else stderr_is_tty()
    bar = Progress(show, clock.elapsed, clock.budget_s, task.name if hasattr(task, "name") else "task")

    t_train = time.time()
    try:
        bar.start()
        _reserve(model, setup, planner, clock, budget_s)
        if run_path is not None and not resume:
            mark_running(run_path, task, regime, seed, budget_s)
        _train(model, regime, setup, planner, state, bar, timings, on_step)
    except KeyboardInterrupt:
        state.stop_reason = "interrupted"
    finally:
        bar.stop()
    timings["planned_stop_s"] = round(planner.train_until() - clock.start, 3)
    timings["stop_s"] = round(clock.elapsed(), 3)
    timings["train"] = time.time() - t_train

    result = _result(model, setup, planner, state, budget_s, timings, run_path)
    if run_path is not None:
        _save(run_path, model, setup, task, regime, result, seed, clock, manifest_extra)
    result.elapsed_s = clock.elapsed()
    if state.stop_reason == "interrupted":
        raise KeyboardInterrupt
    return result
