"""Package a collected experience store as the experience nasoa ships (``nasoa meta ship``).

    nasoa meta ship runs/collect/experience.sqlite                # into the user data dir
    nasoa meta ship runs/collect/experience.sqlite --dest meta/data   # a maintainer's checkout

writes, into ``--dest`` (default: ``shipped/`` in the user data dir, which overlays the package's
own ``meta/data/``; the installed package is never written):

* ``experience.parquet``: every run, as ``nasoa meta export`` writes it;
* ``experience.json``: its manifest: counts, sources, budgets, the ``nasoa meta collect`` sampling
  options and counters recorded in the store, versions, machine, the parquet's sha256;
* ``experience.model/``: the meta-model (``MetaModel.fit``) fitted on a store made exactly as a
  user's first ``nasoa adapt`` makes it (the table imported into an empty store), so
  :func:`nasoa.app.adapt.open_store` can install it next to a freshly seeded store and a fresh install
  does not spend its first budget fitting.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import atomic_write_json, machine, user_data_dir, utc_now, versions

from .metamodel import MetaModel
from .store import ExperienceStore

__all__ = ["ship", "user_shipped_dir", "PACKAGE_DATA_DIR"]

#: The experience that ships inside the package: read only.
PACKAGE_DATA_DIR = Path(__file__).resolve().parent / "data"


def user_shipped_dir() -> Path:
    """Where ``nasoa meta ship`` writes by default (``shipped/`` in the user data dir); what lies
    there is read instead of the package's own experience (:func:`nasoa.app.adapt.shipped_experience`)."""
    return user_data_dir() / "shipped"


def ship(store: str | Path, dest: str | Path | None = None, seed: int = 0, *,
         zoo: Sequence[Mapping[str, Any]], grid: Any = None) -> dict[str, Any]:
    """Write the experience table, its manifest and the meta-model fitted on it (over the member
    records ``zoo``; ``grid``: its regime grid, None the default) into ``dest`` (default
    :func:`user_shipped_dir`); returns the manifest."""
    if not Path(store).is_file():
        raise NasoaError(f"no experience store at {store}; pass the SQLite file `nasoa meta collect` wrote")
    src = ExperienceStore(store)
    if src.count() == 0:
        raise NasoaError(f"the store {src.path} has no runs; collect some with `nasoa meta collect`")
    dest = Path(dest) if dest is not None else user_shipped_dir()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        parquet = Path(tmp) / "experience.parquet"
        n = src.export_parquet(parquet)
        fresh = ExperienceStore(Path(tmp) / "fresh.sqlite")
        fresh.import_parquet(parquet)
        mm = MetaModel.fit(fresh, zoo=zoo, seed=seed, grid=grid)
        model_dir = dest / "experience.model"
        shutil.rmtree(model_dir, ignore_errors=True)
        mm.save(model_dir)
        stats = fresh.stats()
        data = parquet.read_bytes()
        shutil.copyfile(parquet, dest / "experience.parquet")
    sampling = {k: json.loads(v) for k, v in src.meta_items().items() if k.endswith(":sampling")}
    manifest = {
        "kind": "nasoa.experience", "created": utc_now(), "runs": n, "tasks": stats["tasks"],
        "models": stats["models"], "per_model": stats["per_model"], "budgets": stats["budgets"],
        "val_accuracy": stats["val_accuracy"], "diverged": stats["diverged"],
        "task_sources": _sources(fresh), "collect": {"sampling": sampling, "counters": src.counters()},
        "first": stats["first"], "last": stats["last"], "sha256": hashlib.sha256(data).hexdigest(),
        "model": {"backend": mm.backend, "runs_learned": mm.predictor.n_seen, "selection": mm.selection,
                  "seed": seed},
        "versions": versions(), "machine": machine(),
        "made_by": f"nasoa meta ship {src.path.name}",
    }
    atomic_write_json(dest / "experience.json", manifest)
    return {**manifest, "dest": str(dest)}


def _sources(st) -> dict[str, int]:
    counts: dict[str, int] = {}
    for spec in st.runs()["task_spec"].to_list():
        name = spec.split("?")[0].removeprefix("builtin:") if spec.startswith("builtin:") else "files"
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))
