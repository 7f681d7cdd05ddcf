"""A zoo member's view of a task for transferability scoring: the penultimate features of a
sample of the task's training images under the member, with their labels (the input of LogME and
k-NN in :mod:`nasoa.meta.features`, which never builds a net itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch  # nasoa.core.data (Batches) imports it anyway

from nasoa.core.data import Batches
from nasoa.core.errors import NasoaError
from nasoa.core.models import create_model, is_model
from nasoa.zoo import profiled_records


def penultimate_features(task, member: str | dict[str, Any], n: int = 300, seed: int = 0, *, pretrained: bool = True,
                         batch_size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features (``forward_features`` then global average pooling) of up to ``n``
    training images of ``task`` under a zoo member, with their labels: LogME's input."""
    rec = member if isinstance(member, dict) else _record(member)
    name = rec["name"]
    size = int(rec.get("input_size") or 32)
    model = create_model(model_name_for(rec), pretrained=pretrained, num_classes=max(2, task.num_classes),
                         input_size=size)
    if not hasattr(model, "forward_features"):
        raise NasoaError(f"zoo member {name!r} has no forward_features(); it cannot be scored with LogME")
    t = task.resized(size)
    y = t.y_train.numpy()
    idx = np.arange(len(y))
    if len(idx) > n:  # a stratified-ish sample: a seeded permutation keeps every class represented
        idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    xs, ys = t.x_train[idx], t.y_train[idx]
    mean = tuple(rec.get("mean", (0.5, 0.5, 0.5)))
    std = tuple(rec.get("std", (0.5, 0.5, 0.5)))
    batches = Batches(xs, ys, batch_size=batch_size, shuffle=False, augment=False, mean=mean, std=std, channels=3)
    model.eval()
    feats = []
    with torch.inference_mode():
        for xb, _ in batches.epoch(0):
            f = model.forward_features(xb)
            if f.ndim == 4:
                f = f.mean(dim=(2, 3))
            feats.append(f.reshape(f.shape[0], -1).double().numpy())
    return np.concatenate(feats), ys.numpy()


def _record(name: str) -> dict[str, Any]:
    for r in profiled_records():
        if r["name"] == name:
            return r
    raise NasoaError(f"no zoo member named {name!r}; see `nasoa zoo list`")


def model_name_for(rec: dict[str, Any]) -> str:
    """What create_model should be given: the registered name, else the member's encoding."""
    if is_model(rec["name"]) or not rec.get("encoding"):
        return rec["name"]
    return rec["encoding"]
