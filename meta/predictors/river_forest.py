"""The river back-end: a streaming adaptive random forest (or Hoeffding adaptive tree), saved as
its parameters plus the ordered rows it learned and rebuilt by replaying them (see
:mod:`nasoa.meta.predictors`)."""

from __future__ import annotations

import json
import math
import numbers
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasoa.core.errors import NasoaError

from .base import Predictor, _versions
from .schema import RESERVED, _clean, _targets

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RiverPredictor"]


class RiverPredictor(Predictor):
    """A streaming regressor: river's adaptive random forest (``model="arf"``, with an uncertainty:
    the spread of its trees) or Hoeffding adaptive tree (``"hat"``), over standard-scaled numbers
    and one-hot categories. Every ``learn_one`` updates it.

    ``window`` bounds what it remembers, and so the cost of loading it: river models cannot be
    saved without pickle (see the module docstring), so the saved form is the ordered rows the
    model learned, replayed on load. With a window W the model is always the replay of its log:
    when the log reaches 2W rows it is cut to the last W and the model is rebuilt from them (W
    replays, once every W rows), so a load replays fewer than 2W rows however long the stream.
    ``None`` keeps every row (the stand-alone back-end in evaluations)."""

    kind = "river"

    def __init__(self, seed: int = 0, *, model: str = "arf", n_models: int = 5, grace_period: int = 50,
                 window: int | None = None):
        super().__init__(seed)
        if model not in ("arf", "hat"):
            raise NasoaError(f"unknown river model {model!r}; use arf or hat")
        if window is not None and int(window) < 1:
            raise NasoaError(f"the river window must hold at least one row, not {window}")
        self.model, self.n_models, self.grace_period = model, int(n_models), int(grace_period)
        self.window = int(window) if window is not None else None
        self._log: list[tuple[dict[str, Any], float]] = []
        self.rebuilds = 0
        self._build()

    def _build(self) -> None:
        from river import compose, forest, preprocessing, tree  # lazy: river; loads when the online model is built

        self._prep = compose.TransformerUnion(
            compose.SelectType(numbers.Number) | preprocessing.StandardScaler(),
            compose.SelectType(str) | preprocessing.OneHotEncoder(),
        )
        if self.model == "arf":
            self._reg = forest.ARFRegressor(n_models=self.n_models, seed=self.seed, grace_period=self.grace_period,
                                            leaf_prediction="adaptive")
        else:
            self._reg = tree.HoeffdingAdaptiveTreeRegressor(seed=self.seed, grace_period=self.grace_period,
                                                            leaf_prediction="adaptive")

    def describe(self) -> str:
        return f"river-{self.model}"

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "model": self.model, "n_models": self.n_models, "grace_period": self.grace_period,
                "window": self.window}

    def reset(self) -> None:
        self._log = []
        self._y_sum, self._y_n = 0.0, 0
        self._build()

    def _replay(self, log: list[tuple[dict[str, Any], float]]) -> None:
        """A fresh model that has learned exactly ``log``, in order."""
        self.reset()
        for xc, y in log:
            self._learn_clean(xc, y)

    def _learn_clean(self, xc: dict[str, Any], y: float) -> None:
        self._prep.learn_one(xc)
        self._reg.learn_one(self._prep.transform_one(xc), float(y))
        self._log.append((xc, float(y)))
        self._seen(y)

    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        self._learn_clean(_clean(x), float(y))
        if self.window is not None and len(self._log) >= 2 * self.window:
            self._replay(self._log[-self.window:])
            self.rebuilds += 1

    def learn_many(self, frame: pl.DataFrame) -> None:
        """Row by row, except that a window cut on the way is skipped to: the model after it is the
        replay of the last rows only, so only those are learned (the same model, fewer replays)."""
        rows, y, _ = _targets(frame)
        w, n = self.window, len(self._log) + len(rows)
        if w is None or n < 2 * w:
            for x, v in zip(rows, y):
                self._learn_clean(x, v)
            return
        keep = w + (n - 2 * w) % w  # the log's length after the last cut
        tail = (self._log + list(zip(rows, [float(v) for v in y])))[-keep:]
        self.rebuilds += 1 + (n - 2 * w) // w
        self._replay(tail)

    def _predict_clean(self, xc: dict[str, Any]) -> float:
        if not self._y_n:
            return self.prior
        v = self._reg.predict_one(self._prep.transform_one(xc))
        return float(v) if v is not None and math.isfinite(float(v)) else self.prior

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return self._predict_clean(_clean(x))

    def _dicts(self, frame: pl.DataFrame) -> list[dict[str, Any]]:
        keep = [c for c in frame.columns if c not in RESERVED and not c.startswith("_")]
        return [_clean(r) for r in frame.select(keep).to_dicts()] if keep else [{} for _ in range(frame.height)]

    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        return np.array([self._predict_clean(x) for x in self._dicts(frame)], dtype=np.float64)

    def predict_std_many(self, frame: pl.DataFrame) -> np.ndarray | None:
        if self.model != "arf":
            return None
        if not self._y_n:
            return np.full(frame.height, np.nan)
        out = []
        for x in self._dicts(frame):
            xt = self._prep.transform_one(x)
            out.append(float(np.std([m.predict_one(xt) for m in self._reg])))
        return np.array(out)

    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        return ({"replay.json": json.dumps([[x, y] for x, y in self._log]).encode()},
                {"rows": len(self._log), "rebuilds": self.rebuilds})

    @classmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> RiverPredictor:
        p = cls(**manifest["params"])
        saved = (manifest.get("versions") or {}).get("river")
        now = _versions().get("river")
        if saved and now and saved != now:
            warnings.warn(f"{d} was written with river {saved}; replaying it under river {now} may give a slightly "
                          f"different model", stacklevel=3)
        p._replay([(x, float(y)) for x, y in json.loads(files["replay.json"])])
        p.rebuilds = int(manifest["state"].get("rebuilds", 0))
        return p
