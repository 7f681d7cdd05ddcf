"""Back-ends by name: build a fresh one (:func:`make_predictor`) or load a saved one of any kind
(:func:`load_predictor`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasoa.core.errors import NasoaError

from .base import Predictor, read_saved
from .baseline import PopularPredictor
from .combination import CombinedPredictor
from .lgbm import LGBMPredictor
from .river_forest import RiverPredictor

__all__ = ["BACKENDS", "make_predictor", "load_predictor"]

_KINDS: dict[str, type[Predictor]] = {c.kind: c for c in (LGBMPredictor, RiverPredictor, CombinedPredictor,
                                                         PopularPredictor)}

# Named back-ends: name -> (kind, params). ``make_predictor(name, seed)`` builds one.
BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "lgbm-regressor": ("lgbm", {"objective": "regression"}),
    "lgbm-ranker": ("lgbm", {"objective": "lambdarank"}),
    "river": ("river", {"model": "arf"}),
    "combo-residual": ("combo", {"mode": "residual"}),
    "combo-blend": ("combo", {"mode": "blend"}),
    "most-often-best": ("popular", {}),  # the baseline, for evaluation
}


def make_predictor(name: str, seed: int = 0, **overrides: Any) -> Predictor:
    """A fresh predictor by back-end name (see :data:`BACKENDS`)."""
    if name not in BACKENDS:
        raise NasoaError(f"unknown predictor back-end {name!r}; choose one of {', '.join(BACKENDS)}")
    kind, params = BACKENDS[name]
    return _KINDS[kind](seed=seed, **{**params, **overrides})


def load_predictor(directory: str | Path) -> Predictor:
    """Load a predictor saved by :meth:`Predictor.save`, checking every file's sha256."""
    d, manifest, files = read_saved(directory, _KINDS)
    return _KINDS[manifest["kind"]]._load(d, manifest, files)
