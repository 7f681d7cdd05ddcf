"""The experience store an adapt run opens (``--store``, ``$NASOA_STORE``, or the user data dir):
an empty one is seeded with the shipped experience table, and with the meta-model fitted on it, so a
fresh install neither starts cold nor spends its first budget fitting.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from nasoa.meta.metamodel import default_model_dir
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
