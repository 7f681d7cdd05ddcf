"""The protocol every back-end implements, and the checksummed, pickle-free saved form.

A saved predictor is a directory with ``manifest.json`` (format, kind, parameters, state, the
sha256 of every data file, the package versions) plus the data files the back-end writes.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import atomic_write_bytes, atomic_write_json, versions

from .schema import _clean, _empty_frame, _frame, _targets

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Predictor", "FORMAT", "FORMAT_VERSION", "read_saved"]

FORMAT = "nasoa.meta.predictor"
FORMAT_VERSION = 2  # 2: LightGBM rows as a parquet table plus recent rows; river windows; measured blend errors


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def _versions() -> dict[str, str]:
    """:func:`nasoa.core.runtime.versions`, read once per process (a snapshot is saved after every
    learned run, and reading package metadata costs about 15 ms)."""
    return versions()


class Predictor(abc.ABC):
    """Base class: the shared protocol, the prior, saving with checksums."""

    kind: ClassVar[str] = ""

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self._y_sum = 0.0
        self._y_n = 0

    # -- protocol --------------------------------------------------------------------------------
    @abc.abstractmethod
    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        """Implemented by every back-end."""

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return float(self.predict_many(_frame([_clean(x)]) if _clean(x) else _empty_frame(1))[0])

    def learn_many(self, frame: pl.DataFrame) -> None:
        rows, y, g = _targets(frame)
        for x, yi, gi in zip(rows, y, g):
            self.learn_one(x, yi, gi)

    @abc.abstractmethod
    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        """Implemented by every back-end."""

    def predict_std_many(self, frame: pl.DataFrame) -> np.ndarray | None:
        return None

    def predict_accuracy_many(self, frame: pl.DataFrame) -> np.ndarray:
        """Each row's predicted accuracy: what a user is shown and what the mean absolute error
        scores. :meth:`predict_many` is the score a pick ranks by; a back-end whose score adds a
        within-task ranking part (its spread set by a weight, not by accuracy) returns its accuracy
        level here instead."""
        return self.predict_many(frame)

    @property
    def prior(self) -> float:
        return self._y_sum / self._y_n if self._y_n else 0.5

    def _seen(self, y: float) -> None:
        self._y_sum += float(y)
        self._y_n += 1

    @property
    def n_seen(self) -> int:
        return self._y_n

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """Implemented by every back-end."""

    def feature_importances(self) -> dict[str, float] | None:
        return None

    def describe(self) -> str:
        return self.kind

    # -- saving ----------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``manifest.json`` plus data files into ``directory`` (atomically, file by file)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files, state = self._save_files(d)
        hashes = {}
        for name, data in files.items():
            atomic_write_bytes(d / name, data)
            hashes[name] = _sha256(data)
        atomic_write_json(d / "manifest.json", {
            "format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind, "params": self.params(),
            "state": state, "files": hashes, "versions": _versions(),
        })
        return d

    @abc.abstractmethod
    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        """Implemented by every back-end."""

    @classmethod
    @abc.abstractmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> Predictor:
        """Implemented by every back-end."""

    @classmethod
    def load(cls, directory: str | Path) -> Predictor:
        """A predictor of this class saved by :meth:`save` (its files' checksums verified)."""
        d, manifest, files = read_saved(directory, {cls.kind})
        return cls._load(d, manifest, files)


def read_saved(directory: str | Path, kinds: Iterable[str]) -> tuple[Path, dict[str, Any], dict[str, bytes]]:
    """The manifest and data files of a predictor saved by :meth:`Predictor.save` whose kind is one
    of ``kinds``, after checking the format and every file's sha256."""
    d = Path(directory)
    mpath = d / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError:
        raise NasoaError(f"no saved predictor in {d} (no manifest.json); fit one with `nasoa meta fit`") from None
    except (OSError, ValueError) as e:
        raise NasoaError(f"the predictor manifest {mpath} is unreadable ({e}); refit with `nasoa meta fit`") from None
    if manifest.get("format") != FORMAT or manifest.get("kind") not in set(kinds):
        raise NasoaError(f"{mpath} is not a nasoa predictor; refit with `nasoa meta fit`")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise NasoaError(f"{mpath} was written by a newer nasoa (format {manifest['format_version']}); upgrade nasoa")
    files = {}
    for name, want in (manifest.get("files") or {}).items():
        path = d / name
        try:
            data = path.read_bytes()
        except OSError:
            raise NasoaError(f"{path} is missing; the saved predictor in {d} is incomplete: refit with "
                             f"`nasoa meta fit`") from None
        if _sha256(data) != want:
            raise NasoaError(f"{path} fails its checksum; the saved predictor is corrupt: refit with `nasoa meta fit`")
        files[name] = data
    return d, manifest, files
