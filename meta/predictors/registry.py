"""Back-ends by name: build a fresh one (:func:`make_predictor`) or load a saved one of any kind
(:func:`load_predictor`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasoa.core.errors import NasoaError

from .base import Predictor, read_saved
from .baseline import PopularPredictor
from .combination import CombinedPredictor
from .lgbm import LGBMPredictor
from .river_forest import RiverPredictor

__all__ = ["BACKENDS", "make_predictor", "load_predictor", "saved_lgbm_params"]

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


def saved_lgbm_params(directory: str | Path) -> dict[str, Any] | None:
    """The settings of a saved predictor's LightGBM part (itself, or a combination's base), read
    from its manifest alone (no boosters, no checksums); None for a back-end without one."""
    manifest = json.loads((Path(directory) / "manifest.json").read_text())
    params = manifest.get("params") or {}
    kind = manifest.get("kind")
    return params if kind == LGBMPredictor.kind else params.get("base") if kind == CombinedPredictor.kind else None
