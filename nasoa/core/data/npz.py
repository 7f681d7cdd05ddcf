"""Tasks from ``.npz`` arrays: ``x``, ``y`` (optional ``x_val``/``y_val``, ``x_test``/``y_test`` and
``classes``), loaded without unpickling; images of any common layout and dtype become uint8
N x C x H x W, labels (plain or one-hot) become 0..K-1."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nasoa.core.data.specs import _check_enough_classes, _make_task, _resolve_classes, _Spec
from nasoa.core.data.splits import _split_indices
from nasoa.core.data.task import DataError, NoTestSplit, TaskData, _warn


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
        raise NoTestSplit(f"{where} has no test split; add x_test, y_test arrays")
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
