"""The experience store an adapt run opens (``--store``, ``$NASOA_STORE``, or the user data dir):
an empty one is seeded with the shipped experience table, and with the meta-model fitted on it, so a
fresh install neither starts cold nor spends its first budget fitting.

A store seeded by an earlier version keeps that version's experience: an upgrade's new shipped runs
reach it through :func:`upgrade_store` (``nasoa meta upgrade``), which adds the shipped runs it lacks
and refits its meta-model, outside any budget; :func:`shipped_gap` counts them (``nasoa adapt``
says so after its run).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nasoa.core.errors import NasoaError
from nasoa.meta.metamodel import (DEFAULT_ONLINE, MetaModel, default_model_dir, saved_grid, snapshot_is_current,
                                  split_backend)
from nasoa.meta.ship import PACKAGE_DATA_DIR, user_shipped_dir
from nasoa.meta.store import ExperienceStore


def shipped_experience() -> Path:
    """The experience table that seeds an empty store: the one ``nasoa meta ship`` wrote into the
    user data dir (``shipped/experience.parquet``) when there is one, else the one that ships inside
    the package (``nasoa/meta/data/experience.parquet``)."""
    user = user_shipped_dir() / "experience.parquet"
    return user if user.is_file() else PACKAGE_DATA_DIR / "experience.parquet"


def shipped_model() -> Path:
    """The meta-model fitted on the shipped experience (``experience.model/`` beside it)."""
    return shipped_experience().with_name("experience.model")


def open_store(store: str | Path | None):
    """The experience store; an empty one is seeded with the shipped experience table, and with
    the meta-model fitted on it, so a fresh install neither starts cold nor spends its first
    budget fitting."""
    st = ExperienceStore(store)
    shipped = shipped_experience()
    if st.count() == 0 and shipped.is_file():
        st.import_parquet(shipped)
        _install_shipped_model(st)
    return st


def _install_shipped_model(st) -> None:
    """Copy the shipped model next to a store just seeded with the shipped table. It was fitted on
    a store made the same way (the table imported into an empty store: row ids 1..N), so its
    ``last_run_id`` means the same rows here; anything else and the store is fitted on first use."""
    src, dst = shipped_model(), default_model_dir(st.path)
    try:
        doc = json.loads((src / "metamodel.json").read_text())
    except (OSError, ValueError):
        return
    n = st.count()
    if dst.exists() or int(doc.get("runs_learned", -1)) != n or int(doc.get("last_run_id", -1)) != n:
        return
    tmp = dst.with_name(f"{dst.name}.tmp-{os.getpid()}")
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        os.replace(tmp, dst)  # whole or not at all; a concurrent seeder may have won: fine
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def shipped_gap(st: ExperienceStore) -> int:
    """How many runs of the shipped experience table the store lacks (by ``uid``); 0 without one."""
    import polars as pl  # lazy: polars; opening a store stays light

    shipped = shipped_experience()
    if not shipped.is_file():
        return 0
    try:
        uids = pl.read_parquet(shipped, columns=["uid"])["uid"].drop_nulls().to_list()
    except (OSError, pl.exceptions.PolarsError):
        return 0  # an unreadable shipped table is reported where it is imported, not here
    return len(set(uids)) - len(st.stored_uids(uids))


def _shipped_backend() -> tuple[str, str | None]:
    """The shipped model's back-end as (LightGBM back-end, online combination): ``combo-blend:lgbm-regressor``
    -> (``lgbm-regressor``, ``blend``). The default ones where its manifest cannot be read."""
    try:
        name = str(json.loads((shipped_model() / "metamodel.json").read_text())["backend"])
    except (OSError, ValueError, KeyError, TypeError):
        return "lgbm-regressor", DEFAULT_ONLINE
    return split_backend(name)


def upgrade_store(st: ExperienceStore, *, zoo: Sequence[Mapping[str, Any]], seed: int = 0,
                  model_dir: str | Path | None = None) -> dict[str, Any]:
    """Bring a store seeded by an earlier version up to this version's shipped experience: append
    the shipped runs it lacks (by ``uid``; its own runs stay as they are) and refit its meta-model
    on all of them, with the shipped model's back-end and regime grid (the grid this version's
    experience was collected for). Nothing to add and a model of this version's format in place:
    nothing is done. Returns
    ``{"added", "runs", "refit", "model_dir", "backend"}``."""
    shipped = shipped_experience()
    if not shipped.is_file():
        raise NasoaError(f"this installation ships no experience table ({shipped} is missing); reinstall nasoa "
                         f"or ship one with `nasoa meta ship`")
    added = st.import_parquet(shipped)
    dest = Path(model_dir) if model_dir is not None else default_model_dir(st.path)
    out: dict[str, Any] = {"added": added, "runs": st.count(), "refit": False, "model_dir": str(dest),
                           "backend": None}
    if added == 0 and snapshot_is_current(dest):
        return out
    backend, online = _shipped_backend()
    grid = saved_grid(shipped_model()) or saved_grid(dest)
    mm = MetaModel.fit(st, zoo=zoo, backend=backend, online=online, seed=seed, grid=grid)
    out.update(refit=True, model_dir=str(mm.save(dest)), backend=mm.backend)
    return out
