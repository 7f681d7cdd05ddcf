"""A task written out as an ImageFolder tree: ``OUT/train/CLASS/*.png``, ``OUT/val/...`` and, when a
test split is given, ``OUT/test/...``.

This is the shape of a practitioner's own data, so a built-in or generated task can be handed to
``nasoa adapt`` the way a user's folder is, shared, or looked at. PNG is lossless: reading the tree
back (:func:`nasoa.core.data.load_task` on ``OUT``) gives the same images, labels and splits, so the
same meta-features. The tree is written into a hidden folder beside ``OUT`` and renamed into place
at the end: an interrupted export leaves no half-written ``OUT``. Written here rather than with
torchvision's ``save_image``, which rescales floats and would need the images converted first.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

import numpy as np

from nasoa.core.data.task import DataError, TaskData

__all__ = ["check_export_target", "class_folder_names", "export_image_folder"]

_UNSAFE = re.compile(r"[^\w.\- ]+")


def class_folder_names(classes: list[str]) -> list[str]:
    """One folder name per class: the class's name with anything a folder name cannot safely hold
    (path separators, control characters, leading dots) replaced, unique (``-2``, ``-3`` on a clash,
    case-insensitively, for case-insensitive file systems)."""
    names: list[str] = []
    seen: set[str] = set()
    for c in classes:
        base = _UNSAFE.sub("_", str(c)).strip(" ").lstrip(".") or "class"
        name, k = base, 1
        while name.lower() in seen:
            k += 1
            name = f"{base}-{k}"
        seen.add(name.lower())
        names.append(name)
    return names


def check_export_target(out: str | os.PathLike) -> Path:
    """``out`` as a path, if an export may write there: it must not exist or be an empty folder."""
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a folder that is not empty" if out.is_dir() else "a file"
        raise DataError(f"'{out}' is {what}; export into a new or empty folder")
    return out


def _write_split(root: Path, x, y, folders: list[str]) -> int:
    """Each image of a split as ``root/CLASS/NNNNN.png``, numbered in the task's order per class."""
    from PIL import Image  # lazy: Pillow; only an export writes images

    arr, labels = x.numpy(), y.numpy()
    width = max(5, len(str(len(labels))))
    counts = [0] * len(folders)
    for folder in folders:
        (root / folder).mkdir(parents=True)
    for img, label in zip(arr, labels):
        c = int(label)
        # C x H x W uint8 -> H x W (grey) or H x W x C (RGB)
        pixels = img[0] if img.shape[0] == 1 else np.ascontiguousarray(img.transpose(1, 2, 0))
        Image.fromarray(pixels).save(root / folders[c] / f"{counts[c]:0{width}d}.png", compress_level=1)
        counts[c] += 1
    return len(labels)


def export_image_folder(task: TaskData, out: str | os.PathLike, test: TaskData | None = None) -> dict:
    """Write ``task`` (and ``test``'s images, held in its ``x_val``/``y_val`` as
    :func:`~nasoa.core.data.load_test` returns them) under ``out``, a new or empty folder.
    Returns what was written: the folder, class folders and image counts per split."""
    out = check_export_target(out)
    if test is not None and list(test.classes) != list(task.classes):
        raise DataError("the test split's classes differ from the task's; load both from the same spec")
    folders = class_folder_names(task.classes)
    tmp = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()  # the user's umask, as OUT itself would get
    except OSError as e:
        raise DataError(f"cannot write into '{out.parent}' ({e.strerror or e}); export into a folder you may "
                        f"write") from None
    try:
        counts = {"train": _write_split(tmp / "train", task.x_train, task.y_train, folders),
                  "val": _write_split(tmp / "val", task.x_val, task.y_val, folders)}
        if test is not None:
            counts["test"] = _write_split(tmp / "test", test.x_val, test.y_val, folders)
        if out.exists():
            out.rmdir()  # empty, checked above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"out": str(out), "name": task.name, "classes": dict(zip(task.classes, folders)), **counts,
            "channels": task.channels, "image_size": task.image_size}

