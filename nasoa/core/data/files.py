"""Tasks from image files: ImageFolder trees (each real folder entered and each real file read once,
so a symbolic-link loop cannot multiply images or put one image in two splits) and CSV lists of
``path,label`` (rows whose file resolves outside the CSV's folder refused unless ``allow_outside``,
``--allow-outside``). Images are decoded by :mod:`nasoa.core.data.decode`."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasoa.core.data.decode import _decode_many, _stack
from nasoa.core.data.specs import _check_enough_classes, _make_task, _resolve_classes, _Spec
from nasoa.core.data.splits import _class_rng, _default_val_per_class, _split_indices
from nasoa.core.data.task import DataError, NoTestSplit, TaskData, _warn

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
VAL_DIR_NAMES = ("val", "valid", "validation")


@dataclass
class _FileSet:
    """Labelled image files of one source, per split; labels index ``names``."""

    names: list[str]
    train: list[tuple[str, int]]
    val: list[tuple[str, int]] | None
    test: list[tuple[str, int]] | None
    where: str
    not_images: list[str] = field(default_factory=list)
    walk: _Walk | None = None  # ImageFolder: what the directory walk skipped
    rows_outside: int = 0  # CSV: rows whose file resolves outside the CSV's folder (read: allow_outside)


@dataclass
class _Walk:
    """The state of one ImageFolder scan (all its splits): every real folder and file reached so far.

    Symbolic links are followed, but a folder whose real path was reached before, or that holds the
    dataset itself (a link to ``..``), is not entered again, and a file reached a second time (two
    links to one image, or one image linked into train and val) is read once: a loop cannot
    multiply images, nor put the same image in two splits.
    """

    root: str  # real path of the dataset root
    dirs: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    skipped_dirs: list[tuple[str, str]] = field(default_factory=list)  # (path as reached, real path)
    repeated_files: list[str] = field(default_factory=list)

    def enter(self, path: str, real: str) -> bool:
        """Whether to walk into folder ``path`` (real path ``real``); records it either way."""
        holds_root = real == self.root or self.root.startswith(real.rstrip(os.sep) + os.sep)
        if real in self.dirs or holds_root:
            self.skipped_dirs.append((path, real))
            return False
        self.dirs.add(real)
        return True

    def first_visit(self, path: str, real: str) -> bool:
        if real in self.files:
            self.repeated_files.append(path)
            return False
        self.files.add(real)
        return True

    def warning(self, where: str) -> str | None:
        if not self.skipped_dirs and not self.repeated_files:
            return None
        parts = []
        if self.skipped_dirs:
            path, real = self.skipped_dirs[0]
            why = "a loop back into the dataset" if (real == self.root or self.root.startswith(real + os.sep)) \
                else "a folder already read"
            parts.append(f"{len(self.skipped_dirs)} folder(s) reached again through symbolic links (e.g. {path} -> "
                         f"{real}: {why})")
        if self.repeated_files:
            parts.append(f"{len(self.repeated_files)} file(s) reached a second time (e.g. {self.repeated_files[0]})")
        return (f"skipped {' and '.join(parts)} in {where}; each folder and image is read once; remove the links "
                f"to silence this")


def _walk_files(top: str, walk: _Walk) -> Iterator[str]:
    """Files under folder ``top`` (already entered), depth first: each folder's files in name order,
    then its subfolders in name order; hidden names skipped; symbolic links followed once."""
    stack = [(top, os.path.realpath(top))]
    while stack:
        path, real = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:  # unreadable folder: skipped, as os.walk does
            continue
        subdirs = []
        for e in entries:
            link = e.is_symlink()
            try:
                is_dir = e.is_dir()  # follows links; a broken link is a file (and then unreadable)
            except OSError:
                is_dir = False
            target = os.path.realpath(e.path) if link else os.path.join(real, e.name)
            if is_dir:
                if walk.enter(e.path, target):
                    subdirs.append((e.path, target))
            elif walk.first_visit(e.path, target):
                yield e.path
        stack.extend(reversed(subdirs))


def images_under(folder: str | os.PathLike) -> list[str]:
    """The image files under ``folder`` as an ImageFolder scan reads a class folder's
    (:func:`_walk_files`: name order, hidden names skipped, symbolic links followed once)."""
    real = os.path.realpath(folder)
    walk = _Walk(real)
    walk.dirs.add(real)
    return [p for p in _walk_files(os.fspath(folder), walk) if os.path.splitext(p)[1].lower() in IMAGE_EXTENSIONS]


def _scan_class_dirs(root: Path, where: str, walk: _Walk) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """Sorted class folders of ``root`` -> their image files (recursive, hidden names ignored)."""
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not subdirs:
        loose = sum(1 for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        inside = f" ({loose} images lie directly inside)" if loose else ""
        raise DataError(f"found no class folders in {where}{inside}; put each class's images in its own "
                        f"subfolder: {root}/CLASS/image.png")
    # Every class folder is claimed before any is walked, so a link from one class into another is
    # not followed (it would relabel the other class's images).
    entered = [walk.enter(str(d), os.path.realpath(d)) for d in subdirs]
    files: dict[str, list[str]] = {}
    others: list[str] = []
    for d, ok in zip(subdirs, entered):
        images = []
        for p in (_walk_files(str(d), walk) if ok else ()):
            (images if os.path.splitext(p)[1].lower() in IMAGE_EXTENSIONS else others).append(p)
        files[d.name] = images
    return [d.name for d in subdirs], files, others


def _image_folder(root: Path) -> _FileSet:
    train_dir = root / "train"
    walk = _Walk(os.path.realpath(root))
    walk.dirs.add(walk.root)
    if train_dir.is_dir():
        where = f"'{train_dir}'"
        walk.dirs.update(os.path.realpath(root / c) for c in ("train", *VAL_DIR_NAMES, "test") if (root / c).is_dir())
        names, files, others = _scan_class_dirs(train_dir, where, walk)
        index = {n: i for i, n in enumerate(names)}
        splits: dict[str, list[tuple[str, int]] | None] = {"val": None, "test": None}
        for split, candidates in (("val", VAL_DIR_NAMES), ("test", ("test",))):
            d = next((root / c for c in candidates if (root / c).is_dir()), None)
            if d is None:
                continue
            snames, sfiles, sothers = _scan_class_dirs(d, f"'{d}'", walk)
            unknown = [n for n in snames if n not in index]
            if unknown:
                raise DataError(f"class {unknown[0]!r} in '{d}' has no folder in '{train_dir}'; "
                                f"use the same class folders in every split")
            splits[split] = [(p, index[n]) for n in snames for p in sfiles[n]]
            others += sothers
        fs = _FileSet(names, [(p, index[n]) for n in names for p in files[n]], splits["val"], splits["test"],
                      where, others, walk)
    else:
        where = f"'{root}'"
        names, files, others = _scan_class_dirs(root, where, walk)
        fs = _FileSet(names, [(p, i) for i, n in enumerate(names) for p in files[n]], None, None, where, others,
                      walk)
    _check_enough_classes(fs.names, fs.where)
    return fs


_PATH_HEADERS = {"path", "file", "filename", "filepath", "file_path", "image", "image_path", "img", "img_path"}
_LABEL_HEADERS = {"label", "class", "target", "y", "category", "class_name"}


def _inside(real: str, folder_real: str) -> bool:
    return real == folder_real or real.startswith(folder_real.rstrip(os.sep) + os.sep)


def _csv_files(path: Path, allow_outside: bool = False) -> _FileSet:
    """The rows of a CSV of ``path,label`` (optional header and split column). Paths are relative to
    the CSV's folder; a row whose file resolves outside it (absolute, ``..``, or a link that leads
    out) is refused unless ``allow_outside``: a CSV from elsewhere must not read arbitrary files."""
    where = f"'{path}'"
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [[c.strip() for c in r] for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read {where}: {e}; pass a UTF-8 CSV of path,label rows") from None
    rows = [r for r in rows if not r[0].startswith("#")]
    if not rows:
        raise DataError(f"{where} has no rows; write one 'path,label' line per image")
    path_col, label_col, split_col = 0, 1, None
    head = [c.lower() for c in rows[0]]
    if head[0] in _PATH_HEADERS or (len(head) > 1 and head[1] in _LABEL_HEADERS) or (
            any(h in _PATH_HEADERS for h in head) and any(h in _LABEL_HEADERS for h in head)):
        path_col = next((i for i, h in enumerate(head) if h in _PATH_HEADERS), 0)
        label_col = next((i for i, h in enumerate(head) if h in _LABEL_HEADERS), 1)
        split_col = head.index("split") if "split" in head else None
        rows = rows[1:]
        if not rows:
            raise DataError(f"{where} has a header but no rows; add one 'path,label' line per image")
    width = max(path_col, label_col, split_col or 0) + 1
    base = path.parent
    base_real = os.path.realpath(base)
    outside: list[tuple[int, str, str]] = []  # (row, path as written, where it resolves)
    entries: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "test": []}
    for lineno, r in enumerate(rows, 1):
        if len(r) < width or not r[path_col] or not r[label_col]:
            raise DataError(f"row {lineno} of {where} ({','.join(r)!r}) lacks a path or a label; "
                            f"write 'path,label' on every line")
        split = "train"
        if split_col is not None and r[split_col]:
            split = r[split_col].lower()
            split = "val" if split in VAL_DIR_NAMES else split
            if split not in entries:
                raise DataError(f"row {lineno} of {where} has split {r[split_col]!r}; use train, val or test")
        p = Path(r[path_col]).expanduser()
        full = str(p if p.is_absolute() else base / p)
        real = os.path.realpath(full)
        if not _inside(real, base_real):
            outside.append((lineno, r[path_col], real))
        entries[split].append((full, r[label_col]))
    if outside and not allow_outside:
        lineno, text, real = outside[0]
        shown = repr(text) if os.path.normpath(text) == real else f"{text!r}, which resolves to {real},"
        raise DataError(f"row {lineno} of {where} names {shown} outside the CSV's folder {base_real} ({len(outside)} "
                        f"of {len(rows)} rows do); move the images under that folder, or pass --allow-outside "
                        f"(allow_outside=True) to read them")
    labels = {lab for split in entries.values() for _, lab in split}
    if all(lab.lstrip("-").isdigit() for lab in labels):
        names = [str(v) for v in sorted({int(lab) for lab in labels})]
        key = lambda lab: str(int(lab))  # noqa: E731
    else:
        names = sorted(labels)
        key = lambda lab: lab  # noqa: E731
    train_names = {key(lab) for _, lab in entries["train"]}
    if not entries["train"]:
        raise DataError(f"{where} has no training rows; mark training images with split=train or leave split empty")
    names_train = [n for n in names if n in train_names]
    _check_enough_classes(names_train, where)
    for split in ("val", "test"):
        extra = sorted({key(lab) for _, lab in entries[split]} - train_names)
        if extra:
            raise DataError(f"label {extra[0]!r} appears in {split} rows of {where} but in no training row; "
                            f"add training images of it or remove those rows")
    index = {n: i for i, n in enumerate(names_train)}

    def conv(split: str) -> list[tuple[str, int]]:
        return [(p, index[key(lab)]) for p, lab in entries[split]]

    return _FileSet(names_train, conv("train"), conv("val") or None, conv("test") or None, where,
                    rows_outside=len(outside))


def _assemble(arrays: list[np.ndarray], where: str, sink: list[str], info: dict) -> np.ndarray:
    """Stack decoded images into uint8 N x C x H x W in one frame, grey ones repeated to 3 channels
    when any image has colour.

    Where one size holds at least half of the images (a uniform set with a few odd ones), that size
    is the frame and the odd ones are resized to it. Otherwise (photos of many sizes and shapes, where
    the most common size may be a single odd image) the frame is a square of the images' median
    shorter side, and each image is resized on its shorter side and centre-cropped to it, as an
    ImageNet evaluation transform does: no image is squashed. ``info["image_format"]["fit"]`` says
    which, so that :func:`~nasoa.core.data.decode.load_images` frames new images the same way."""
    sizes = Counter(a.shape[:2] for a in arrays)
    (h, w), most = sizes.most_common(1)[0]
    fit = "stretch"
    if 2 * most < len(arrays):
        h = w = max(1, int(np.median([min(a.shape[:2]) for a in arrays])))
        fit = "crop"
    info["native_size"] = (int(h), int(w))
    info.setdefault("image_format", {})["fit"] = fit
    odd = sum(n for s, n in sizes.items() if s != (h, w))
    if odd and fit == "stretch":  # _stack resizes them
        _warn(sink, f"resized {odd} of {len(arrays)} images in {where} to the most common size {h}x{w} "
                    f"({len(sizes)} sizes found); add ?size=N to the data path to choose the size")
    elif odd:
        _warn(sink, f"the images in {where} come in {len(sizes)} sizes: {odd} of {len(arrays)} resized on their "
                    f"shorter side to {h} px (the median) and centre-cropped to {h}x{w}; add ?size=N to the data "
                    f"path to resize every image to N x N instead")
    info["resized_mixed_sizes"] = odd
    colour = any(a.ndim == 3 for a in arrays)
    info["native_channels"] = 3 if colour else 1
    return _stack(arrays, h, w, 3 if colour else 1, fit)


def _files_task(fs: _FileSet, base: str, source: str, spec: _Spec, seed: int, val_fraction: float, strict: bool,
                max_side: int, test: bool) -> TaskData:
    where = fs.where
    sink: list[str] = []
    info: dict[str, Any] = {"seed": seed, "val_fraction": val_fraction, "hflip": True, "duplicates_removed": 0,
                            "non_image_files": len(fs.not_images), "rows_outside": fs.rows_outside,
                            "image_format": {"decode_size": spec.size, "max_side": max_side}}
    if fs.walk is not None:
        info["symlinked_folders_skipped"] = len(fs.walk.skipped_dirs)
        info["repeated_files_skipped"] = len(fs.walk.repeated_files)
        message = fs.walk.warning(where)
        if message:
            _warn(sink, message)
    if fs.not_images:
        if strict:
            raise DataError(f"{fs.not_images[0]!r} in {where} is not an image file ({len(fs.not_images)} such files); "
                            f"remove them, or run without --strict to skip them")
        _warn(sink, f"skipped {len(fs.not_images)} non-image files in {where} (e.g. {fs.not_images[0]}); "
                    f"only {', '.join(sorted(e[1:] for e in IMAGE_EXTENSIONS))} files are read")
    chosen = _resolve_classes(spec.classes, fs.names, where)
    names = [fs.names[i] for i in chosen]
    remap = {c: i for i, c in enumerate(chosen)}

    def pick(entries: list[tuple[str, int]] | None) -> list[tuple[str, int]] | None:
        return None if entries is None else [(p, remap[c]) for p, c in entries if c in remap]

    if test:
        if fs.test is None:
            raise NoTestSplit(f"{where} has no test split; add a test/ folder (ImageFolder), rows with split=test "
                            f"(CSV) or x_test, y_test arrays (npz)")
        pools = {"train": [], "val": pick(fs.test)}
    else:
        pools = {"train": pick(fs.train), "val": pick(fs.val)}
        for c, name in enumerate(names):
            if not any(k == c for _, k in pools["train"]):
                raise DataError(f"class {name!r} in {where} has no images; add images or remove the folder")

    # With per_class, decode only what the task needs: each class's files in seeded order until enough
    # readable images are found. Without it, decode everything.
    need_train: int | None = None
    need_val: int | None = None
    if not test and spec.per_class is not None:
        if pools["val"] is None:
            need_train = spec.per_class + (spec.val_per_class if spec.val_per_class is not None
                                           else _default_val_per_class(spec.per_class, val_fraction))
        else:
            need_train, need_val = spec.per_class, spec.val_per_class

    failures: list[tuple[str, str]] = []
    downscaled = 0
    decoded: dict[str, list[tuple[np.ndarray, int]]] = {}
    for split, entries in pools.items():
        if entries is None:
            continue
        need = need_train if split == "train" else need_val
        got: list[tuple[np.ndarray, int]] = []
        for c in range(len(names)):
            files = [p for p, k in entries if k == c]
            if need is not None:
                order = _class_rng(seed, chosen[c], 0 if split == "train" else 1).permutation(len(files))
                files = [files[i] for i in order]
            have, pos = 0, 0
            while pos < len(files) and (need is None or have < need):
                chunk = files[pos:pos + (len(files) if need is None else need - have)]
                pos += len(chunk)
                for p, d in zip(chunk, _decode_many(chunk, max_side, spec.size)):
                    if d.array is None:
                        if strict:
                            raise DataError(f"cannot read {p!r} in {where} ({d.error}); fix or remove it, or run "
                                            f"without --strict to skip unreadable files")
                        failures.append((p, d.error or "unreadable"))
                        continue
                    downscaled += d.downscaled
                    got.append((d.array, c))
                    have += 1
            if not test and split == "train" and have == 0:
                raise DataError(f"class {names[c]!r} in {where} has no readable images ({len(files)} files could not "
                                f"be read); fix or remove them")
        decoded[split] = got
    if failures:
        p, why = failures[0]
        _warn(sink, f"skipped {len(failures)} unreadable image files in {where} (e.g. {p}: {why}); fix or remove "
                    f"them (--strict makes this an error)")
    if downscaled:
        _warn(sink, f"downscaled {downscaled} images larger than {max_side} px on their longest side in {where} "
                    f"to {max_side} px on load; add ?size=N to the data path to choose the size")
    info.update({"skipped_files": len(failures), "skipped_examples": [p for p, _ in failures[:5]],
                 "downscaled_images": downscaled})
    parts = [decoded[s] for s in ("train", "val") if s in decoded]
    all_arrays = [a for part in parts for a, _ in part]
    if not all_arrays:
        raise DataError(f"no readable images in {where}; check the files are images")
    x = _assemble(all_arrays, where, sink, info)
    n_train = len(decoded["train"])
    x_pool_train, x_pool_val = x[:n_train], x[n_train:]
    y_pool_train = np.array([c for _, c in decoded["train"]], dtype=np.int64)
    y_pool_val = np.array([c for _, c in decoded.get("val") or []], dtype=np.int64)
    if test:
        info["split"] = "test"
        x_train, y_train, x_val, y_val = x_pool_train, y_pool_train, x_pool_val, y_pool_val
    else:
        has_val = pools["val"] is not None
        if has_val and len(y_pool_val) == 0:
            raise DataError(f"the validation split of {where} has no readable images of the selected classes; "
                            f"add images to it or remove it to split off validation images automatically")
        tr, va, method = _split_indices(y_pool_train, y_pool_val if has_val else None, names, chosen, spec, seed,
                                        val_fraction, where, sink)
        info["split"] = method
        x_train, y_train = x_pool_train[tr], y_pool_train[tr]
        x_val, y_val = (x_pool_val[va], y_pool_val[va]) if has_val else (x_pool_train[va], y_pool_train[va])
    info["class_ids"] = chosen
    return _make_task(spec, base, source, x_train, y_train, x_val, y_val, names, chosen, seed, info, sink)
