"""Seeded, stratified splits: which images of a source become a task's train and val images
(deterministic under the task's seed, a class drawing the same images whichever other classes are
selected), and the fixed test hold-out of built-ins that ship without a test split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasoa.core.data.specs import _Spec
from nasoa.core.data.task import DataError, _warn

# Seeds the fixed test split of built-ins that ship without one; independent of any task seed.
TEST_SPLIT_SEED = 20210917
TEST_FRACTION = 0.2
#: Largest over smallest training class at which a task is called imbalanced (a warning, and the
#: balanced accuracy printed beside the accuracy).
IMBALANCE_WARN = 4.0


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
    counts = [len(p) for p in train_parts]
    big, small = int(np.argmax(counts)), int(np.argmin(counts))
    if counts[big] >= IMBALANCE_WARN * counts[small]:
        _warn(sink, f"the classes are imbalanced in {where}: {names[big]!r} has {counts[big]} training images, "
                    f"{names[small]!r} {counts[small]} ({counts[big] / counts[small]:.0f}x), so accuracy counts "
                    f"mostly the large classes; runs report the balanced accuracy (the mean recall over classes) "
                    f"beside it; add ?per_class=N to the data path to train on N images of each class, or add "
                    f"images to the small ones")
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
