"""The shipped experience as one frame (every run's features, ``y``, ``group``, ``family``), for the
scripts of this folder. ``STORE`` is a store holding the ship:
``nasoa meta import meta/data/experience.parquet --store STORE``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from nasoa.meta.features import feature_columns, training_frame
from nasoa.meta.metamodel import MetaModel
from nasoa.zoo import profiled_records


def load(store: str) -> pl.DataFrame:
    cache = Path(store).with_suffix(".frame.parquet")
    if cache.exists() and cache.stat().st_mtime > Path(store).stat().st_mtime:
        return pl.read_parquet(cache)
    mm = MetaModel.load(store, zoo=profiled_records(), model_dir=tempfile.mkdtemp())
    full = training_frame(mm.store.runs(), mm.time_model, mm.member_features)
    full.write_parquet(cache)
    return full


def learn_frame(full: pl.DataFrame) -> pl.DataFrame:
    """What a predictor learns from (as ``MetaModel._learn_frame``): features, ``y``, ``group``."""
    return full.select(feature_columns(full) + ["y", "group"])
