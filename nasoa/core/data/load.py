"""The entry points: :func:`load_task` and :func:`load_test` read a spec and hand it to the loader
of its kind (built-in, ImageFolder, CSV or npz)."""

from __future__ import annotations

import operator
from pathlib import Path

from nasoa.core.data.builtin import BUILTIN_NAMES, _builtin_task
from nasoa.core.data.files import _csv_files, _files_task, _image_folder
from nasoa.core.data.npz import _npz_task
from nasoa.core.data.specs import _parse_spec
from nasoa.core.data.task import DataError, TaskData


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
