"""The experience store: one row per fine-tuning run, in SQLite, safe with many writers.

Every run nasoa fine-tunes (``nasoa meta collect``, ``nasoa adapt``, ``nasoa train``) can be
recorded here: the task (id, spec, meta-features), the model (name, descriptor), the regime, the
budget, the outcome (validation accuracy, actual time, divergence), seed and versions. The
predictors learn from it; ``nasoa meta stats`` summarises it.

Why SQLite: one file, transactions, and concurrent appends from several processes without a
server. The store runs in WAL mode with ``synchronous=FULL``; each append is one ``BEGIN
IMMEDIATE`` transaction (a writer waits on the busy timeout rather than failing), so a process
killed at any instant (SIGKILL, Ctrl-C, power loss) leaves either the whole row or none of it.

Location: the ``path`` argument, else ``$NASOA_STORE``, else ``experience.sqlite`` in the user's
data dir (platformdirs). The schema carries a version in the ``meta`` table; opening an older
store migrates it in place, one version at a time, inside a transaction. The file is opened through
:mod:`nasoa.core.sqlite`; the schema and its migrations are :mod:`nasoa.meta.migrations`, a row
:mod:`nasoa.meta.records`.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import atomic_write_bytes, user_data_dir
from nasoa.core.runtime import utc_now
from nasoa.core.sqlite import BUSY_TIMEOUT_S, Hints, SqliteFile, SqliteFileError
from nasoa.meta.migrations import SCHEMA, SCHEMA_VERSION
from nasoa.meta.records import (
    INSERT_RUN, JSON_COLUMNS, RUN_COLUMNS, RunRecord, decode_row, record_from_frame_row, row_values, to_json,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "SCHEMA_VERSION",
    "ENV_STORE",
    "RunRecord",
    "ExperienceStore",
    "default_store_path",
    "StoreError",
    "timing_row",
]

ENV_STORE = "NASOA_STORE"
STORE_FILENAME = "experience.sqlite"


class StoreError(SqliteFileError):
    """The store file cannot be used: corrupt, newer than this nasoa, or not writable."""


def default_store_path() -> Path:
    """``$NASOA_STORE`` if set, else ``experience.sqlite`` in the user's data dir
    (:func:`nasoa.core.runtime.user_data_dir`)."""
    env = os.environ.get(ENV_STORE)
    if env:
        return Path(env).expanduser()
    return user_data_dir() / STORE_FILENAME


def _hints() -> Hints:
    return Hints(
        what="the experience store",
        corrupt="it is not an intact nasoa store: move it aside (or restore a parquet export with `nasoa meta import`) "
                "and run again",
        writable=f"pass --store or set {ENV_STORE} to a writable path",
        newer="upgrade nasoa, or export it with a newer nasoa",
        restart="collect again",
    )


class ExperienceStore:
    """The SQLite experience store. Cheap to open; use as a context manager or call :meth:`close`.

    Several processes may append at once. Reads see a consistent snapshot. Polars frames go in
    (:meth:`append_frame`) and out (:meth:`runs`); :meth:`export_parquet` / :meth:`import_parquet`
    move runs between stores (imports skip runs already present, by ``uid``).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True,
                 timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout_s = timeout_s
        if not self.path.exists():
            if not create:
                raise StoreError(f"there is no experience store at {self.path}; check the path, or create one with "
                                 f"`nasoa meta collect --store {self.path}` or `nasoa meta import FILE --store "
                                 f"{self.path}`")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder for the experience store {self.path}: {e}; "
                                 f"pass --store or set {ENV_STORE} to a writable path") from None
        elif self.path.is_dir():
            raise StoreError(f"the experience store path {self.path} is a folder; pass a file path such as "
                             f"{self.path / STORE_FILENAME}")
        self.db = SqliteFile(self.path, SCHEMA, _hints(), error=StoreError, timeout_s=timeout_s)

    # ---- connection ----------------------------------------------------------------------------

    def _guard(self) -> AbstractContextManager[None]:
        return self.db.guard()

    @property
    def con(self) -> sqlite3.Connection:
        return self.db.con

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ExperienceStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ExperienceStore({str(self.path)!r})"

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception (Ctrl-C included) rolls back."""
        return self.db.transaction()

    def schema_version(self) -> int:
        return self.db.schema_version()

    def check(self) -> None:
        """Run SQLite's integrity check; raise :class:`StoreError` naming the file when it fails."""
        self.db.check()

    def snapshot(self, dst: str | os.PathLike) -> Path:
        """A consistent copy of the store at ``dst`` (SQLite's backup API), taken while others may append."""
        return self.db.snapshot(dst)

    # ---- writing ---------------------------------------------------------------------------------

    def append(self, record: RunRecord | Mapping[str, Any], *, counter: str | None = None) -> int:
        """Append one run; returns its row id. With ``counter``, the named counter in the ``meta``
        table is incremented in the same transaction (resumable collection: the counter says how
        many sampled runs are done, and it can never disagree with the rows)."""
        ids = self.append_many([record], counter=counter)
        return ids[0]

    def append_many(self, records: Iterable[RunRecord | Mapping[str, Any]], *, counter: str | None = None) -> list[int]:
        """Append runs in one transaction (all or none); returns their row ids (-1 for a uid already
        stored). With ``counter``, that counter grows by the number of records, in the same transaction."""
        recs = [r if isinstance(r, RunRecord) else RunRecord.from_dict(r) for r in records]
        ids: list[int] = []
        with self.transaction() as con:
            for r in recs:
                cur = con.execute(INSERT_RUN, row_values(r))
                ids.append(int(cur.lastrowid) if cur.rowcount else -1)
            if counter is not None:
                self._bump(con, counter, len(recs))
        return ids

    def stored_uids(self, uids: Iterable[str]) -> set[str]:
        """Which of ``uids`` the store holds (a resumed collection skips runs it appended ahead of
        its counter)."""
        wanted = list(dict.fromkeys(uids))
        found: set[str] = set()
        with self._guard():
            for k in range(0, len(wanted), 500):
                chunk = wanted[k:k + 500]
                rows = self.con.execute(f"SELECT uid FROM runs WHERE uid IN ({','.join('?' * len(chunk))})", chunk)
                found.update(r[0] for r in rows)
        return found

    def bump_counter(self, key: str, by: int = 1) -> int:
        """Increment a counter without appending a run (e.g. a sampled run that was skipped)."""
        with self.transaction() as con:
            return self._bump(con, key, by)

    @staticmethod
    def _bump(con: sqlite3.Connection, key: str, by: int) -> int:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (f"counter:{key}",)).fetchone()
        value = (int(row[0]) if row else 0) + by
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (f"counter:{key}", str(value)))
        return value

    def counter(self, key: str) -> int:
        with self._guard():
            row = self.con.execute("SELECT value FROM meta WHERE key = ?", (f"counter:{key}",)).fetchone()
        return int(row[0]) if row else 0

    def counters(self) -> dict[str, int]:
        with self._guard():
            rows = self.con.execute("SELECT key, value FROM meta WHERE key LIKE 'counter:%'").fetchall()
        return {k[len("counter:"):]: int(v) for k, v in rows}

    def meta_items(self) -> dict[str, str]:
        """Every row of the ``meta`` table (schema version, counters, collection settings)."""
        with self._guard():
            rows = self.con.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
        return {k: v for k, v in rows}

    def get_meta(self, key: str) -> str | None:
        """A value from the ``meta`` table (schema version, counters, settings of a collection)."""
        return self.db.get_meta(key)

    def set_meta(self, key: str, value: str, *, only_if_absent: bool = False) -> str:
        """Set a ``meta`` value; with ``only_if_absent`` keep an existing one. Returns the stored value."""
        return self.db.set_meta(key, value, only_if_absent=only_if_absent)

    def append_frame(self, frame: pl.DataFrame) -> int:
        """Append the rows of a frame shaped like :meth:`runs` (JSON columns as dicts or JSON
        text); rows whose ``uid`` is already stored are skipped. Returns how many were added."""
        recs = [record_from_frame_row(row) for row in frame.to_dicts()]
        return sum(1 for i in self.append_many(recs) if i >= 0)

    # ---- the per-task feature cache -----------------------------------------------------------

    def task_features(self, task_id: str) -> dict[str, Any] | None:
        """Cached meta-features of a task (``None`` when not cached)."""
        with self._guard():
            row = self.con.execute("SELECT features FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_task_features(self, task_id: str, features: Mapping[str, Any], task_spec: str = "") -> None:
        with self.transaction() as con:
            con.execute("INSERT OR REPLACE INTO tasks (task_id, task_spec, features, updated) VALUES (?, ?, ?, ?)",
                        (task_id, task_spec, to_json(dict(features)), utc_now("milliseconds")))

    def task_list(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every task that has runs: ``(task_id, task_spec, features of its latest run)``."""
        sql = ("SELECT task_id, task_spec, task_features FROM runs WHERE id IN "
               "(SELECT max(id) FROM runs GROUP BY task_id) ORDER BY id")
        with self._guard():
            rows = self.con.execute(sql).fetchall()
        return [(tid, spec or "", json.loads(f) if f else {}) for tid, spec, f in rows]

    def drop_tasks(self, task_ids: Iterable[str]) -> int:
        """Remove every run on these tasks and their cached features, in one transaction (for
        evaluation snapshots that must not have seen them); returns the runs removed."""
        ids = list(task_ids)
        with self.transaction() as con:
            n = 0
            for tid in ids:
                n += con.execute("DELETE FROM runs WHERE task_id = ?", (tid,)).rowcount
                con.execute("DELETE FROM tasks WHERE task_id = ?", (tid,))
        return n

    def replace_task_features(self, task_id: str, features: Mapping[str, Any], task_spec: str = "") -> int:
        """Replace a task's features in the cache and in every run on it, in one transaction (after
        the feature definitions changed); returns the number of runs updated."""
        doc = to_json(dict(features))
        with self.transaction() as con:
            con.execute("INSERT OR REPLACE INTO tasks (task_id, task_spec, features, updated) VALUES (?, ?, ?, ?)",
                        (task_id, task_spec, doc, utc_now("milliseconds")))
            return con.execute("UPDATE runs SET task_features = ? WHERE task_id = ?", (doc, task_id)).rowcount

    # ---- reading ---------------------------------------------------------------------------------

    def count(self) -> int:
        with self._guard():
            return int(self.con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def records(self, after_id: int = 0) -> list[RunRecord]:
        return [RunRecord.from_dict(d) for d in self._dicts(after_id)]

    def _dicts(self, after_id: int = 0) -> list[dict[str, Any]]:
        with self._guard():
            cur = self.con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id > ? ORDER BY id", (after_id,))
            rows = cur.fetchall()
        return [decode_row(row) for row in rows]

    def timings(self, limit: int = 2000) -> list[dict[str, Any]]:
        """The measured step times of the ``limit`` most recent runs (most recent first), for the
        time model's calibration: ``model_name``, ``frozen_stages``, ``batch_size``, ``step_ms``,
        ``threads``, ``cpu``, ``cpu_share``, ``cpu_wait`` (None where not recorded), ``input_size``,
        and what the overheads are learned from:
        ``budget_s``, ``choice_s`` (what of it ``nasoa adapt`` spent before preparing its member;
        0 for other runs), ``reserve_s`` (what of it adapt kept free after training; 0 for other
        runs and adapt runs before 2026-12-06), ``steps``, ``stop_reason``, ``num_val``, and
        ``transfer`` (what scoring each member's transferability took in ``nasoa adapt``'s set-up:
        ``{"images", "s"}``), and ``speed_probe_ms``, the speed of the machine it ran on (None before
        2026-12-02), and ``gpu``, its GPU's name where it had one (a bounded query: its cost does not
        grow with the store)."""
        # Parsed here, not with SQLite's json_extract: Python writes NaN into JSON, which SQLite
        # rejects as malformed.
        with self._guard():
            rows = self.con.execute("SELECT model_name, regime, extra, budget_s, stop_reason, task_features FROM runs "
                                    "ORDER BY id DESC LIMIT ?", (int(limit),)).fetchall()
        return [t for t in (timing_row(*row) for row in rows) if t is not None]

    def runs(self, after_id: int = 0, decode: bool = False) -> pl.DataFrame:
        """All runs (after row ``after_id``) as a polars frame, one column per store column.

        JSON columns stay JSON text unless ``decode`` (then they are dict-valued Python objects,
        which suits :func:`nasoa.meta.features.training_frame`)."""
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        with self._guard():
            rows = self.con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id > ? ORDER BY id",
                                    (after_id,)).fetchall()
        schema = {
            "id": pl.Int64, "uid": pl.Utf8, "created": pl.Utf8, "task_id": pl.Utf8, "task_spec": pl.Utf8,
            "task_features": pl.Utf8, "model_name": pl.Utf8, "model_features": pl.Utf8, "regime": pl.Utf8,
            "budget_s": pl.Float64, "val_accuracy": pl.Float64, "elapsed_s": pl.Float64, "diverged": pl.Boolean,
            "stop_reason": pl.Utf8, "seed": pl.Int64, "versions": pl.Utf8, "strategy": pl.Utf8, "run_dir": pl.Utf8,
            "extra": pl.Utf8,
        }
        cols = list(zip(*rows)) if rows else [[] for _ in RUN_COLUMNS]
        data = {}
        for name, values in zip(RUN_COLUMNS, cols):
            vals = list(values)
            if name == "diverged":
                vals = [bool(v) for v in vals]
            data[name] = pl.Series(name, vals, dtype=schema[name])
        frame = pl.DataFrame(data)
        if decode:
            frame = frame.with_columns(
                [pl.Series(c, [json.loads(v) if v else {} for v in frame[c]], dtype=pl.Object) for c in JSON_COLUMNS]
            )
        return frame

    def stats(self) -> dict[str, Any]:
        """``{"runs": N, "tasks": M, ...}``: what ``nasoa meta stats --json`` prints."""
        with self._guard():
            con = self.con
            n, tasks, models, div, first, last = con.execute(
                "SELECT COUNT(*), COUNT(DISTINCT task_id), COUNT(DISTINCT model_name), COALESCE(SUM(diverged), 0), "
                "MIN(created), MAX(created) FROM runs").fetchone()
            acc = con.execute("SELECT AVG(val_accuracy), MIN(val_accuracy), MAX(val_accuracy) FROM runs "
                              "WHERE NOT diverged AND val_accuracy IS NOT NULL").fetchone()
            budgets = con.execute("SELECT budget_s, COUNT(*) FROM runs GROUP BY budget_s ORDER BY budget_s").fetchall()
            per_model = con.execute("SELECT model_name, COUNT(*) FROM runs GROUP BY model_name "
                                    "ORDER BY model_name").fetchall()
            per_strategy = con.execute("SELECT COALESCE(strategy, 'unknown'), COUNT(*) FROM runs GROUP BY 1 "
                                       "ORDER BY 1").fetchall()
            cached = con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        return {
            "runs": int(n),
            "tasks": int(tasks),
            "models": int(models),
            "diverged": int(div),
            "val_accuracy": {"mean": acc[0], "min": acc[1], "max": acc[2]},
            "budgets": {f"{b:g}": int(c) for b, c in budgets if b is not None},
            "per_model": {m: int(c) for m, c in per_model},
            "per_strategy": {s: int(c) for s, c in per_strategy},
            "cached_tasks": int(cached),
            "first": first,
            "last": last,
            "counters": self.counters(),
            "schema_version": self.schema_version(),
            "path": str(self.path),
        }

    # ---- parquet -------------------------------------------------------------------------------

    def export_parquet(self, path: str | os.PathLike) -> int:
        """Write every run to a parquet file (JSON columns as text, lossless); returns the count."""
        frame = self.runs()
        buf = io.BytesIO()
        frame.write_parquet(buf)
        try:
            atomic_write_bytes(Path(path), buf.getvalue())
        except OSError as e:
            raise NasoaError(f"cannot write {path} ({e.strerror or type(e).__name__}); pass a path in a folder you may "
                             f"write to") from None
        return frame.height

    def import_parquet(self, path: str | os.PathLike) -> int:
        """Append the runs of a parquet export; those already here (same ``uid``) are skipped."""
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        p = Path(path)
        try:
            frame = pl.read_parquet(p)
        except (OSError, pl.exceptions.PolarsError) as e:
            raise NasoaError(f"cannot read the parquet file {p} ({' '.join(str(e).split())[:200]}); pass a file "
                             f"written by `nasoa meta export`") from None
        missing = {"task_id", "model_name", "regime", "budget_s", "val_accuracy"} - set(frame.columns)
        if missing:
            raise NasoaError(f"{p} lacks the columns {', '.join(sorted(missing))}; it is not a nasoa run export")
        return self.append_frame(frame)


def timing_row(name: str, regime: str | None, extra: str | None, budget_s: float | None, stop_reason: str | None,
               task_features: str | None) -> dict[str, Any] | None:
    """One run's measurements as :meth:`ExperienceStore.timings` gives them, from its stored columns
    (JSON text); None for a run that measured no step time."""
    r, e = json.loads(regime or "{}"), json.loads(extra or "{}")
    step_ms = e.get("step_ms", e.get("step_ms_at_input_size"))  # the latter: runs before 2026-12-02
    if step_ms is None:
        return None
    m = e.get("machine") or {}
    return {"model_name": name, "frozen_stages": r.get("frozen_stages"), "batch_size": e.get("batch_size"),
            "step_ms": step_ms, "threads": e.get("threads", m.get("cores")),
            "cpu": m.get("cpu"), "cpu_share": e.get("cpu_share"),
            "cpu_wait": e.get("cpu_wait"), "input_size": e.get("input_size"),
            "budget_s": budget_s, "choice_s": float(e.get("choice_s") or 0.0),
            "reserve_s": float(e.get("reserve_s") or 0.0), "steps": e.get("steps"),
            "stop_reason": stop_reason, "num_val": json.loads(task_features or "{}").get("task_num_val"),
            "transfer": e.get("transfer"), "speed_probe_ms": e.get("speed_probe_ms"), "gpu": m.get("gpu")}
