"""Task spec strings (``builtin:NAME?k=v&...`` or ``PATH?k=v&...``): parsing them, resolving their
``classes=`` against a source's class names, and making the :class:`TaskData` a spec names from the
arrays a loader cut for it (canonical name, ``?size=``, the image format ``nasoa predict`` repeats)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasoa.core.data.task import SPEC_KEYS, DataError, TaskData, _canonical, resize_uint8

_EXAMPLE_SPEC = "builtin:fashion?classes=0,3,5&per_class=200&size=32"


@dataclass(frozen=True)
class _Spec:
    kind: str  # "builtin" | "path"
    target: str  # built-in name or path
    classes: tuple[str, ...] | None = None
    per_class: int | None = None
    val_per_class: int | None = None
    size: int | None = None
    seed: int | None = None


def _parse_spec(spec: str | Path) -> _Spec:
    if isinstance(spec, Path):
        return _Spec("path", str(spec))
    text = str(spec).strip()
    if not text:
        raise DataError(f"empty task spec; pass an ImageFolder directory, a .csv, a .npz or e.g. {_EXAMPLE_SPEC}")
    if text.lower().startswith("builtin:"):
        name, _, query = text[len("builtin:"):].partition("?")
        kind, target = "builtin", name.strip().lower()
    elif "?" in text and not Path(text).expanduser().exists():
        target, _, query = text.partition("?")
        kind = "path"
    else:
        kind, target, query = "path", text, ""
    values: dict[str, Any] = {}
    for part in query.split("&"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not eq or not value:
            raise DataError(f"bad task spec part {part!r} in {text!r}; write key=value pairs joined by &, "
                            f"e.g. {_EXAMPLE_SPEC}")
        if key not in SPEC_KEYS:
            raise DataError(f"bad task spec key {key!r}; allowed: {', '.join(SPEC_KEYS)}")
        if key in values:
            raise DataError(f"task spec key {key!r} is given twice in {text!r}; keep one")
        if key == "classes":
            tokens = tuple(t.strip() for t in value.split(","))
            if any(not t for t in tokens):
                raise DataError(f"bad classes={value!r} in {text!r}; list class indices or names separated by "
                                f"commas, e.g. classes=0,3,5")
            values[key] = tokens
        else:
            try:
                number = int(value)
            except ValueError:
                number = -1
            low = 0 if key == "seed" else 1
            if number < low:
                raise DataError(f"bad value {value!r} for {key} in task spec {text!r}; expected an integer >= {low}")
            values[key] = number
    return _Spec(kind, target, **values)


def data_path(spec: str | Path) -> Path | None:
    """The local file or folder a DATA spec names (its query cut off, ``~`` expanded, as the loader
    reads it); None for a built-in source. Raises :class:`DataError` for a malformed spec."""
    parsed = _parse_spec(spec)
    return None if parsed.kind == "builtin" else Path(parsed.target).expanduser()


def _resolve_classes(tokens: tuple[str, ...] | None, names: Sequence[str], where: str) -> list[int]:
    """Class indices selected by ``classes=`` (indices, or names when not an integer)."""
    k = len(names)
    if tokens is None:
        return list(range(k))
    lookup = {n: i for i, n in enumerate(names)}
    lower = {n.lower(): i for i, n in enumerate(names)}
    chosen: list[int] = []
    for token in tokens:
        if token.lstrip("-").isdigit():
            index = int(token)
            if not 0 <= index < k:
                raise DataError(f"class index {index} in classes= is out of range for {where}, which has {k} "
                                f"classes (0..{k - 1})")
        elif token in lookup or token.lower() in lower:
            index = lookup.get(token, lower.get(token.lower()))
        else:
            shown = ", ".join(names[:12]) + (", ..." if k > 12 else "")
            raise DataError(f"unknown class {token!r} in classes= for {where}; use indices 0..{k - 1} "
                            f"or names: {shown}")
        if index in chosen:
            raise DataError(f"class {token!r} appears twice in classes= for {where}; list each class once")
        chosen.append(index)
    if len(chosen) < 2:
        raise DataError(f"classes={','.join(tokens)} selects {len(chosen)} class of {where}; "
                        f"fine-tuning needs at least 2")
    return chosen


def _check_enough_classes(names: Sequence[str], where: str) -> None:
    if not names:
        raise DataError(f"found no classes in {where}; it needs images of at least 2 classes")
    if len(names) < 2:
        raise DataError(f"found 1 class in {where} ({names[0]}); fine-tuning needs at least 2; add another class")


def _make_task(spec: _Spec, base: str, source: str, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
               y_val: np.ndarray, names: list[str], chosen: list[int], seed: int, info: dict,
               sink: list[str]) -> TaskData:
    xt = torch.from_numpy(np.ascontiguousarray(x_train))
    xv = torch.from_numpy(np.ascontiguousarray(x_val))
    if spec.size is not None:
        xt, xv = resize_uint8(xt, spec.size), resize_uint8(xv, spec.size)
    canon = {"base": base, "classes": chosen if spec.classes is not None else None, "per_class": spec.per_class,
             "val_per_class": spec.val_per_class, "size": spec.size, "seed": seed}
    yt = torch.from_numpy(np.ascontiguousarray(y_train, dtype=np.int64))
    yv = torch.from_numpy(np.ascontiguousarray(y_val, dtype=np.int64))
    # How an image file becomes one of this task's images (``load_images``: nasoa predict decodes new
    # images through the same steps). Kept by ``resized``, so a run's task still says how it was made.
    image_format = {"decode_size": None, "max_side": None, **info.get("image_format", {}),
                    "frame": [int(xt.shape[2]), int(xt.shape[3])], "channels": int(xt.shape[1])}
    info.update({
        "image_format": image_format,
        "spec": canon,
        "size": int(xt.shape[2]),
        "train_counts": torch.bincount(yt, minlength=len(names)).tolist(),
        "val_counts": torch.bincount(yv, minlength=len(names)).tolist(),
        "warnings": sink,
    })
    return TaskData(_canonical(canon), xt, yt, xv, yv, list(names), source, info)
