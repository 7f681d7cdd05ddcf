"""The task type: a classification task held in memory (:class:`TaskData`), the errors and warnings
every loader raises (:class:`DataError`, :class:`DataWarning`), and the uint8 image resize a task
uses to reach a model's input size (:func:`resize_uint8`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from nasoa.core.errors import NasoaError

# The keys of a task spec's query, in the order a canonical spec string lists them.
SPEC_KEYS = ("classes", "per_class", "val_per_class", "size", "seed")


class DataError(NasoaError):
    """Bad data input; the message is one line: what is wrong and what to do."""


class NoTestSplit(DataError):
    """The data holds no test split (an ImageFolder without test/, a CSV without split=test rows, an
    npz without x_test): :func:`~nasoa.core.data.load_test` has nothing to read."""


class DataWarning(UserWarning):
    """A recoverable data problem (skipped files, resized images); also in ``task.info["warnings"]``."""


def _warn(sink: list[str], message: str) -> None:
    sink.append(message)
    warnings.warn(message, DataWarning, stacklevel=3)


def _canonical(spec: dict) -> str:
    """The canonical spec string: base plus keys in a fixed order, seed always included."""
    parts = []
    for key in SPEC_KEYS:
        value = spec.get(key)
        if value is None:
            continue
        parts.append(f"{key}={','.join(str(v) for v in value) if key == 'classes' else value}")
    return f"{spec['base']}?{'&'.join(parts)}"


@dataclass(eq=False)
class TaskData:
    """One classification task held in memory: uint8 N x C x H x W images, int64 labels 0..K-1.

    A task returned by :func:`load_test` holds the test images in ``x_val``/``y_val`` and an empty
    train split (``info["split"] == "test"``).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    classes: list[str]
    source: str
    info: dict = field(default_factory=dict)
    _resized_cache: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_train(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def num_val(self) -> int:
        return int(self.y_val.shape[0])

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[2])

    def resized(self, size: int) -> TaskData:
        """This task with images resized to ``size`` x ``size`` (bilinear, antialiased); the same
        object when already that size, and cached so repeated calls do not resize again."""
        size = int(size)
        if size < 1:
            raise DataError(f"cannot resize to {size} px; pass a size of at least 1")
        if tuple(self.x_train.shape[2:]) == (size, size):
            return self
        if size not in self._resized_cache:
            spec = dict(self.info.get("spec", {}))
            name = self.name
            if spec.get("base"):
                spec["size"] = size
                name = _canonical(spec)
            info = {**self.info, "size": size, "spec": spec}
            self._resized_cache[size] = TaskData(
                name=name,
                x_train=resize_uint8(self.x_train, size),
                y_train=self.y_train,
                x_val=resize_uint8(self.x_val, size),
                y_val=self.y_val,
                classes=list(self.classes),
                source=self.source,
                info=info,
            )
        return self._resized_cache[size]

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.x_train.shape[1:])
        return (f"TaskData({self.name!r}, classes={self.num_classes}, train={self.num_train}, "
                f"val={self.num_val}, shape={shape})")


def class_counts(task: TaskData, split: str = "train") -> list[int]:
    """Images per class in ``split`` ("train" or "val"), in class order."""
    if split not in ("train", "val"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'val'")
    y = task.y_train if split == "train" else task.y_val
    return torch.bincount(y, minlength=task.num_classes).tolist()


def resize_uint8(x: torch.Tensor, size: int | tuple[int, int], chunk: int = 2048) -> torch.Tensor:
    """Resize uint8 N x C x H x W images (bilinear, antialiased when shrinking) to uint8."""
    h, w = (size, size) if isinstance(size, int) else size
    if tuple(x.shape[2:]) == (h, w):
        return x
    out = torch.empty((x.shape[0], x.shape[1], h, w), dtype=torch.uint8)
    for i in range(0, x.shape[0], chunk):
        part = F.interpolate(x[i:i + chunk].float(), size=(h, w), mode="bilinear", align_corners=False,
                             antialias=True)
        out[i:i + chunk] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out
