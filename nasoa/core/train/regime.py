"""What a fine-tuning run is asked to do (:class:`Regime`) and what it measured (:class:`TrainResult`).

Both are plain records crossing boundaries: the meta-learner chooses a :class:`Regime`, the experience
store and the run manifests keep both as dicts. Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from nasoa.core.errors import NasoaError

__all__ = ["Regime", "TrainResult", "SCHEDULES", "OPTIMIZERS"]

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
    #: The mean recall over the validation classes (:func:`nasoa.core.train.loop.balanced_accuracy`):
    #: on an imbalanced split, what ``val_accuracy`` would be if every class counted alike.
    val_balanced_accuracy: float | None = None
    #: ``[right, of]`` per class, in the task's class order (the manifest's per-class recall).
    val_per_class: list[list[int]] = field(default_factory=list)
    #: Temperature scaling fitted on the validation split (:func:`nasoa.core.train.calibrate.calibration`):
    #: ``temperature``, ``images``, ``nll`` and ``ece`` as ``[before, after]``; None when not evaluated
    #: (interrupted) or diverged.
    calibration: dict[str, Any] | None = None
    #: The training step's arithmetic (:mod:`nasoa.core.train.precision`): ``name`` (fp32, bf16, fp16),
    #: ``device`` and fp16's final ``loss_scale``; None for results recorded before it was kept.
    precision: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
