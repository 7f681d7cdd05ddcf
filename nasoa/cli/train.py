"""``nasoa train``: one explicit regime on one dataset, within a wall-clock budget."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import check_min_budget, deadline_guard, parse_duration

from . import _options as opt
from ._common import command_start


def train(
    data: str = typer.Argument(..., help="ImageFolder dir, .csv of (path,label), .npz, or builtin:NAME?classes=..&per_class=.."),
    model: str = typer.Option(..., "--model", "-m", help="Zoo name (nasoa zoo list) or an ET-NAS encoding."),
    budget: str = opt.BUDGET,
    lr: float = typer.Option(0.01, "--lr", min=1e-6, max=5.0, help="Peak learning rate."),
    frozen_stages: int = typer.Option(0, "--frozen-stages", min=0, max=8, help="Freeze the stem and the first k stages."),
    schedule: str = typer.Option("cosine", "--schedule", help="cosine | step | constant (shaped to the budget)."),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd (momentum 0.9, nesterov) | adamw."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, max=4096, help="Images per training step."),
    weight_decay: float = typer.Option(None, "--weight-decay", min=0.0, help="Default 5e-4 (sgd) / 0.05 (adamw)."),
    label_smoothing: float = typer.Option(0.0, "--label-smoothing", min=0.0, max=0.99,
                                         help="Label smoothing of the cross-entropy loss (0: none)."),
    epochs: float = typer.Option(None, "--epochs", min=0.01, help="Cap on epochs; default fills the budget."),
    no_augment: bool = typer.Option(False, "--no-augment", help="Switch off random crops and flips."),
    scratch: bool = typer.Option(False, "--scratch", help="Random initialisation instead of pretrained weights."),
    size: int = typer.Option(None, "--size", min=8, max=1024, help="Input size; default: the model's."),
    seed: int = opt.SEED,
    out: Path = typer.Option(None, "--out", help="Run dir (default runs/train-<time>-<model>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its checkpoint."),
    strict: bool = opt.STRICT,
    allow_outside: bool = opt.ALLOW_OUTSIDE,
    device: str = opt.DEVICE,
    precision: str = opt.PRECISION,
    as_json: bool = opt.JSON,
) -> None:
    """Fine-tune one model with one explicit regime on one dataset, finishing within --budget."""
    start = command_start()
    budget_s = parse_duration(budget)
    check_min_budget(budget_s)
    from nasoa.core.train import Regime

    if weight_decay is None:
        weight_decay = 5e-4 if optimizer == "sgd" else 0.05
    regime = Regime(
        lr=lr, frozen_stages=frozen_stages, schedule=schedule, optimizer=optimizer, batch_size=batch_size,
        weight_decay=weight_decay, label_smoothing=label_smoothing, epochs=epochs, augment=not no_augment,
    )
    if resume and out is None:
        raise NasoaError("--resume needs --out RUN_DIR: the run to continue")
    from nasoa.app.workflow import prepare_model_and_task, run_dir_for

    # Loading must leave time for at least a few steps, an evaluation and saving.
    guard_at = start + budget_s * 0.9 - 0.3
    with deadline_guard(guard_at, lambda: (
            f"the budget of {budget_s:g}s is too small: start-up and loading {data} and the model took "
            f"{time.time() - start:.0f}s of it; give a larger --budget or a smaller task")):
        from nasoa.app.workflow import resolve_device
        from nasoa.core.train.precision import resolve_precision

        # Refused before loading (fp16 on a CPU, bf16 on a GPU without it); warned when a CPU emulates bf16.
        resolve_precision(precision, resolve_device(device), warn=lambda line: typer.echo(f"warning: {line}", err=True))
        prepared = prepare_model_and_task(data, model, seed=seed, pretrained=not scratch, size=size, strict=strict,
                                          device=device, allow_outside=allow_outside)
    out = out or run_dir_for("train", prepared.entry.name)
    from nasoa.core.train import finetune

    result = finetune(
        prepared.model, prepared.task, regime, budget_s, seed=seed, start_time=start, device=prepared.device,
        mean=prepared.mean, std=prepared.std, hflip=prepared.hflip, run_dir=out, resume=resume,
        progress=None if not as_json else False, precision=precision,
        manifest_extra={"model": prepared.describe(), "data": data, "command": "train", "argv": sys.argv[1:]},
    )
    payload = prepared.summary(result, regime, start)
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        opt.print_result(payload, data)
