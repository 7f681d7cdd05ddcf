"""``nasoa.meta``: the meta-learning engine behind one-shot recommendations.

* :class:`ExperienceStore` — every fine-tuning run, in SQLite (``store``);
* task meta-features and LogME transferability (``features``, ``logme``);
* zoo members as feature dicts (``descriptors``) and the candidate regimes (``candidates``);
* predictors behind one river-style protocol, one module per back-end (``predictors``), and their
  shared check suite (``checks``, kept out of production imports);
* :class:`MetaModel`, what users query (``metamodel``), leave-tasks-out evaluation (``evaluate``)
  and its ranking metrics (``metrics``).

Importing this package is cheap; numpy, polars, lightgbm and river load when used. It never imports
nasoa's nets or trainer (that glue lives in :mod:`nasoa.app.collect`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .metamodel import MetaModel
    from .store import ExperienceStore, RunRecord

__all__ = ["ExperienceStore", "MetaModel", "RunRecord", "default_store_path", "logme"]

_LAZY = {
    "ExperienceStore": ("store", "ExperienceStore"),
    "RunRecord": ("store", "RunRecord"),
    "default_store_path": ("store", "default_store_path"),
    "MetaModel": ("metamodel", "MetaModel"),
    "logme": ("logme", "logme"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{mod}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
