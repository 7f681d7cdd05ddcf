"""``nasoa bench adapt``'s stores and row files: the snapshot every row starts from (the shipped
experience, or a given store, optionally without a held-out family, fitted once), the private copy
each row works on (a path locally, the snapshot's bytes on a remote worker), and the append-only,
fsynced row files a run resumes from (a torn last line is dropped and its row runs again)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock

from nasoa.app.adapt import open_store
from nasoa.core.errors import NasoaError
from nasoa.core.families import lineage_of
from nasoa.core.sqlite import copy_database
from nasoa.meta.metamodel import MetaModel, default_model_dir, saved_grid
from nasoa.meta.store import ExperienceStore
from nasoa.zoo import profiled_records

# The rows' protocol: what a row is, shared by the runner and the report.
ONE_SHOT = ("nasoa", "practice", "default", "random", "logme")
STRATEGIES = (*ONE_SHOT, "bohb")
# Rows of this protocol start from a private copy of one store snapshot; earlier rows (protocol 1)
# shared one store along the stream and are only reported when nothing newer is there.
PROTOCOL = 2
# The comparison columns of the main table: nasoa minus each of these.
COMPARE = ("practice", "default")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut short by a kill: that row is simply run again
            continue
    return out


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a kill left without its newline, so the next append starts a line of
    its own (appended to the fragment, a good row would be unreadable too)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())


def _append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def copy_store(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite experience store (through SQLite's backup, so committed WAL
    content comes along) and of its fitted meta-model, when it has one."""
    copy_database(src, dst)
    model = default_model_dir(src)
    if model.is_dir():
        shutil.copytree(model, default_model_dir(dst), dirs_exist_ok=True)


def seed_store(out: Path, source: str | Path | None = None, seed: int = 0, exclude: str | None = None) -> Path:
    """``out/seed.sqlite``, the snapshot every row starts from, made on first use: a copy of
    ``source``, or a new store seeded with the shipped experience and its meta-model; fitted once
    here when it has runs but no model, so no row pays for that. Later calls (a resume, another
    shard) reuse it unchanged. ``exclude``: a task family (lineage, :func:`nasoa.core.families.lineage_of`)
    whose runs are removed and the meta-model fitted without them (``out/seed-without-FAMILY.sqlite``),
    so a task of that family meets a meta-model that has never seen its family."""
    path = out / ("seed.sqlite" if exclude is None else f"seed-without-{exclude}.sqlite")
    if path.exists():
        return path
    out.mkdir(parents=True, exist_ok=True)
    # Shards started together each built the snapshot, and the second's move of its model folder
    # failed on the first's ("Directory not empty"): one process builds it, the others wait for it.
    with FileLock(str(out / f".{path.name}.lock")):
        if not path.exists():
            _build_seed_store(path, out, source, seed, exclude)
    return path


def _build_seed_store(path: Path, out: Path, source: str | Path | None, seed: int, exclude: str | None) -> None:
    tmp = out / f".seed-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if source is not None:
            if not Path(source).is_file():
                raise NasoaError(f"--seed-store {source} does not exist; pass an experience store file (.sqlite)")
            copy_store(Path(source), tmp / "seed.sqlite")
        st = open_store(tmp / "seed.sqlite")  # an empty store is seeded as `nasoa adapt` would seed it
        model = default_model_dir(tmp / "seed.sqlite")
        grid = saved_grid(model)  # a refit keeps the regime grid of the model it replaces
        if exclude is not None:
            dropped = st.drop_tasks([tid for tid, spec, _ in st.task_list() if lineage_of(spec) == exclude])
            if dropped:  # the model beside the copy learned the family: fit anew without it
                shutil.rmtree(model, ignore_errors=True)
        if st.count() and not (model / "metamodel.json").exists():
            MetaModel.fit(st, zoo=profiled_records(), seed=seed, grid=grid).save(model)
        st.close()
        if model.is_dir() and not default_model_dir(path).exists():
            os.replace(model, default_model_dir(path))
        final = tmp / "final.sqlite"
        copy_store(tmp / "seed.sqlite", final)  # one self-contained file, no WAL beside it
        os.replace(final, path)  # the file's existence marks the snapshot complete
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def store_state(path: Path) -> dict[str, int]:
    """What a store holds: runs and tasks with cached meta-features (LogME included)."""
    st = ExperienceStore(path)
    try:
        s = st.stats()
    finally:
        st.close()
    return {"runs": s["runs"], "cached_tasks": s["cached_tasks"]}


def snapshot_files(seed_path: Path) -> dict[str, bytes]:
    """A store snapshot and its fitted model as ``{relative path: bytes}``: what a worker on another
    machine unpacks to start a row from it (the snapshot is self-contained, no WAL beside it)."""
    files = {seed_path.name: seed_path.read_bytes()}
    model = default_model_dir(seed_path)
    if model.is_dir():
        for f in sorted(model.rglob("*")):
            if f.is_file():
                files[str(f.relative_to(seed_path.parent))] = f.read_bytes()
    return files


def _start_from(snapshot: Path | dict[str, bytes], store: Path) -> None:
    """Put a copy of the snapshot (a path, or :func:`snapshot_files`) at ``store``."""
    if isinstance(snapshot, Path):
        copy_store(snapshot, store)
        return
    name = next(iter(snapshot))  # the store file comes first
    store.parent.mkdir(parents=True, exist_ok=True)
    for rel, data in snapshot.items():
        dest = store if rel == name else default_model_dir(store) / Path(rel).relative_to(Path(name).stem + ".model")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def _scratch(work: Path | None) -> Path:
    """The row's private work dir: ``work`` (local), else a fresh temp dir on the worker's machine."""
    if work is None:
        return Path(tempfile.mkdtemp(prefix="nasoa-bench-adapt-"))
    shutil.rmtree(work, ignore_errors=True)
    return work


def _row_key(r: dict[str, Any]) -> tuple[str, float, str]:
    return r["task"], float(r["budget_s"]), r["strategy"]
