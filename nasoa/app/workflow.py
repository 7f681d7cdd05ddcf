"""Glue shared by ``nasoa train`` and ``nasoa adapt``: load a task, build the model for it,
name the run dir, and shape the result for people and for JSON."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from nasoa.core.errors import NasoaError
from nasoa.core.models import create_model, get_entry, is_model



def resolve_device(device: str) -> str:
    import torch  # lazy: torch; `nasoa train` loads it inside its deadline guard

    d = (device or "auto").strip().lower()
    if d == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise NasoaError(f"--device {device} asked for, but no CUDA GPU is visible; use --device cpu")
        return d
    if d != "cpu":
        raise NasoaError(f"unknown --device {device!r}; use cpu, cuda, cuda:N or auto")
    return d


def run_dir_for(kind: str, model_name: str, root: str | Path = "runs") -> Path:
    """A fresh run dir name: runs/<kind>-<YYYYmmdd-HHMMSS>-<model>."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name)[:40].strip("-") or "model"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{kind}-{stamp}-{safe}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = Path(f"{base}-{i}")
    return path


@dataclass
class Prepared:
    """A task at the model's input size and the model with a head for it."""

    task: Any
    model: Any
    entry: Any
    size: int
    pretrained: bool
    mean: tuple[float, ...]
    std: tuple[float, ...]
    hflip: bool
    device: str
    load_s: float

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.entry.name,
            "encoding": self.entry.encoding,
            "family": self.entry.family,
            "pretrained": self.pretrained,
            "input_size": self.size,
            "mean": list(self.mean),
            "std": list(self.std),
            "channels": self.task.channels,
            # how image files became the task's images: nasoa predict decodes new images the same way
            "image_format": self.task.info.get("image_format"),
            "params": sum(p.numel() for p in self.model.parameters()),
            # trained with random horizontal flips: a mirrored image is the same class (predict --tta)
            "hflip": self.hflip,
        }

    def summary(self, result, regime, start: float, **extra: Any) -> dict[str, Any]:
        """The keys `nasoa train --json` and `nasoa adapt --json` promise, plus details."""
        seen = [(c, r, n) for c, (r, n) in zip(self.task.classes, result.val_per_class) if n]
        out = {
            "val_accuracy": result.val_accuracy,
            # the mean recall over classes, and each class's: what accuracy hides on an imbalanced split
            "val_balanced_accuracy": result.val_balanced_accuracy,
            "val_recall_by_class": {c: round(r / n, 4) for c, r, n in seen},
            "val_imbalance": round(max(n for *_, n in seen) / min(n for *_, n in seen), 3) if seen else None,
            # temperature scaling fitted on the validation split: what predict and export apply
            "calibration": result.calibration,
            # the training step's arithmetic: fp32, or bf16 / fp16 (autocast; evaluation and weights in fp32)
            "precision": (result.precision or {}).get("name", "fp32"),
            "elapsed_s": round(time.time() - start, 3),
            "budget_s": result.budget_s,
            "model": self.entry.name,
            "regime": regime.to_dict(),
            "task": self.task.name,
            "num_classes": self.task.num_classes,
            "num_train": self.task.num_train,
            "num_val": self.task.num_val,
            "pretrained": self.pretrained,
            "input_size": self.size,
            "steps": result.steps,
            "epochs": result.epochs,
            "predicted_s": result.predicted_s,
            "train_elapsed_s": result.elapsed_s,
            "step_ms": result.step_ms,
            "images_per_s": result.images_per_s,
            "diverged": result.diverged,
            "stop_reason": result.stop_reason,
            "run_dir": result.run_dir,
        }
        out.update(extra)
        return out


def prepare_model_and_task(
    data: str,
    model_name: str,
    *,
    seed: int = 0,
    pretrained: bool = True,
    size: int | None = None,
    strict: bool = False,
    device: str = "auto",
    warn: Callable[[str], None] | None = None,
    task=None,
    allow_outside: bool = False,
) -> Prepared:
    """Load ``data`` (unless ``task`` is given), resize it to the model's input, build the model.
    ``allow_outside``: read CSV rows whose files lie outside the CSV's folder."""
    t = time.time()

    entry = get_entry(model_name)
    if pretrained and not entry.pretrained:
        raise NasoaError(
            f"{entry.name!r} has no pretrained weights here; pass --scratch to train it from random "
            f"initialisation, or pick a pretrained member from `nasoa zoo list`"
        )
    if task is None:
        from nasoa.core.data import load_task  # lazy: torch; `nasoa train` loads it inside its deadline guard
        from nasoa.zoo import read_side  # lazy: the zoo registry; read with the data, inside the deadline guard

        task = load_task(data, seed=seed, strict=strict, allow_outside=allow_outside, max_side=read_side())
        if warn is not None:
            for w in task.info.get("warnings", []):
                warn(w)
    if size is None:
        # Pretrained members keep the input size they were trained at; a network trained from
        # scratch takes the data's own size, kept within the small stem's range.
        size = entry.default_input_size if entry.pretrained else min(max(task.image_size, 16), 64)
    task = task.resized(size)
    dev = resolve_device(device)
    import torch  # lazy: torch; `nasoa train` loads it inside its deadline guard

    torch.manual_seed(seed)
    model = create_model(entry.name if is_model(entry.name) else entry.encoding, pretrained=pretrained,
                         num_classes=task.num_classes, input_size=size)
    mean = tuple(entry.info.get("mean", (0.5, 0.5, 0.5)))
    std = tuple(entry.info.get("std", (0.5, 0.5, 0.5)))
    hflip = bool(task.info.get("hflip", True))
    return Prepared(task, model, entry, size, pretrained, mean, std, hflip, dev, time.time() - t)
