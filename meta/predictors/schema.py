"""Dict features -> a numeric matrix, shared by every back-end: reserved keys, cleaned feature
dicts, and the column order and categorical levels fixed at fit time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from nasoa.core.errors import NasoaError

from ..features import CONTEXT_COLUMNS

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RESERVED", "FeatureSchema"]

# Never features: targets, keys, and the decision's context (the budget in seconds: what it buys is
# learned from planned_epochs and images_seen, the same on every machine).
RESERVED = frozenset({"y", "group", "id", "created", "task_id", *CONTEXT_COLUMNS})


def _clean(x: Mapping[str, Any]) -> dict[str, float | str]:
    """Feature dict without reserved keys, private (``_``) keys and missing values."""
    out: dict[str, float | str] = {}
    for k, v in x.items():
        if k in RESERVED or k.startswith("_") or v is None:
            continue
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, (bool, int, float, np.integer, np.floating)):
            f = float(v)
            if math.isfinite(f):
                out[k] = f
    return out


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def _targets(frame: pl.DataFrame) -> tuple[list[dict[str, Any]], list[float], list[str]]:
    if "y" not in frame.columns:
        raise NasoaError("learn_many needs a 'y' column (the validation accuracy) in the frame")
    y = [float(v) for v in frame["y"].to_list()]
    g = [str(v) for v in frame["group"].to_list()] if "group" in frame.columns else ["_"] * frame.height
    feats = frame.drop([c for c in frame.columns if c in RESERVED or c.startswith("_")])
    rows = [_clean(r) for r in feats.to_dicts()] if feats.width else [{} for _ in range(frame.height)]
    return rows, y, g


def _empty_frame(n: int) -> pl.DataFrame:
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    return pl.DataFrame({"_row": np.zeros(n)})


class FeatureSchema:
    """Column order and categorical levels fixed at fit time; unseen levels become NaN."""

    def __init__(self, numeric: list[str], categorical: dict[str, list[str]]):
        self.numeric = list(numeric)
        self.categorical = {k: list(v) for k, v in categorical.items()}
        self._maps = {k: {lv: float(i) for i, lv in enumerate(v)} for k, v in self.categorical.items()}

    @property
    def names(self) -> list[str]:
        return self.numeric + list(self.categorical)

    @classmethod
    def fit(cls, frame: pl.DataFrame) -> FeatureSchema:
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        numeric, categorical = [], {}
        for c in sorted(frame.columns):
            if c in RESERVED or c.startswith("_"):
                continue
            dt = frame.schema[c]
            if dt in (pl.Utf8, pl.Categorical) or isinstance(dt, pl.Enum):
                categorical[c] = sorted(str(v) for v in frame[c].drop_nulls().unique().to_list())
            elif dt.is_numeric() or dt == pl.Boolean or dt == pl.Null:
                numeric.append(c)
        return cls(numeric, categorical)

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The frame as a float64 matrix in schema order: one polars query for every column."""
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        n = frame.height
        out = np.full((n, len(self.numeric) + len(self.categorical)), np.nan, dtype=np.float64)
        schema = frame.schema
        text = (pl.Utf8, pl.Categorical)
        exprs, where = [], []
        for j, c in enumerate(self.numeric):
            if c in schema and schema[c] not in text:
                exprs.append(pl.col(c).cast(pl.Float64, strict=False).alias(f"_{j}"))
                where.append(j)
        off = len(self.numeric)
        for j, (c, mapping) in enumerate(self._maps.items()):
            if c in schema:
                exprs.append(pl.col(c).cast(pl.Utf8, strict=False)
                             .replace_strict(mapping, default=None, return_dtype=pl.Float64).alias(f"_{off + j}"))
                where.append(off + j)
        if exprs and n:
            out[:, where] = frame.select(exprs).to_numpy().astype(np.float64, copy=False)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categorical": self.categorical}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSchema:
        return cls(list(d["numeric"]), {k: list(v) for k, v in d["categorical"].items()})
