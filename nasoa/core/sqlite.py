"""One way to open SQLite in nasoa: the experience store and the search table both go through it.

:class:`SqliteFile` opens a file in WAL mode with ``synchronous=FULL`` and a busy timeout (a writer
waits for another rather than failing), keeps the schema version in a ``meta`` key/value table and
migrates an older file one version at a time, each step in its own transaction. Writes go through
:meth:`SqliteFile.transaction` (``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception, Ctrl-C included,
rolls back), so a process killed at any instant leaves the whole transaction or none of it.

Whatever goes wrong reaches the user as one line naming the file and what to do: a corrupt file, one
from a newer nasoa, one locked for too long, one that cannot be written. :func:`copy_database` and
:meth:`SqliteFile.snapshot` copy a live file consistently through SQLite's backup API (committed WAL
content comes along; other processes may go on reading and writing).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import utc_now

__all__ = ["SqliteFileError", "Schema", "Hints", "SqliteFile", "connect", "copy_database", "BUSY_TIMEOUT_S"]

BUSY_TIMEOUT_S = 60.0
META_TABLE = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

Step = Callable[[sqlite3.Connection], None]


class SqliteFileError(NasoaError):
    """A SQLite file cannot be used: corrupt, newer than this nasoa, locked, or not writable."""


@dataclass(frozen=True)
class Schema:
    """What a file holds: its current ``version``, ``create`` (makes the current tables in a new
    file; the ``meta`` table is there already), ``migrations`` (version N -> a step from N to N+1)
    and ``tables``, whose presence marks a file that already holds some version of this schema."""

    version: int
    create: Step
    migrations: Mapping[int, Step] = field(default_factory=dict)
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hints:
    """The words of the one-line errors: ``what`` the file is ("the experience store"), and what to
    do when it is ``corrupt``, not ``writable``, ``newer`` than this nasoa, or too old to migrate
    (``restart``)."""

    what: str
    corrupt: str = "move it aside and run again"
    writable: str = "pass a path in a folder you may write to"
    newer: str = "upgrade nasoa"
    restart: str = "start again"


def connect(path: str | os.PathLike, timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with nasoa's pragmas: busy
    timeout, WAL (a rollback journal where the file system has no shared memory), ``synchronous =
    FULL``, foreign keys on."""
    con = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None)
    con.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
    # Switching a new file to WAL needs it to itself, and SQLite answers "locked" at once there
    # rather than through the busy timeout: two processes creating one store together failed 5
    # times in 15. So the switch waits here, up to the same timeout.
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as e:
            if not ("locked" in str(e) or "busy" in str(e)) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    if str(mode).lower() != "wal":  # e.g. a file system without shared memory: rollback journal still works
        con.execute("PRAGMA journal_mode = DELETE")
    con.execute("PRAGMA synchronous = FULL")
    con.execute("PRAGMA foreign_keys = ON")
    return con


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def copy_database(src: str | os.PathLike, dst: str | os.PathLike, *, timeout_s: float = BUSY_TIMEOUT_S) -> Path:
    """A consistent copy of the SQLite file ``src`` at ``dst`` through SQLite's backup API (committed
    WAL content comes along; ``src`` may be in use). ``src`` is read, never changed."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise SqliteFileError(f"cannot copy {src}: no such file; pass an existing SQLite file")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        source = sqlite3.connect(str(src), timeout=timeout_s)
        try:
            source.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            target = sqlite3.connect(str(dst), timeout=timeout_s)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    except sqlite3.DatabaseError as e:
        raise SqliteFileError(f"cannot copy {src} to {dst} ({_one_line(e)}); check that {src} is an intact "
                              f"SQLite file and {dst.parent} is writable") from None
    return dst


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _version_in(con: sqlite3.Connection) -> int:
    if "meta" not in _tables(con):
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


class SqliteFile:
    """One SQLite file with a versioned schema, opened with :func:`connect`'s pragmas.

    Opening creates the file's schema when it is new and migrates it when it is older; a forked
    child opens its own connection on first use. ``error`` is the :class:`NasoaError` subclass raised.
    """

    def __init__(self, path: str | os.PathLike, schema: Schema, hints: Hints, *,
                 error: type[NasoaError] = SqliteFileError, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.schema, self.hints, self.error, self.timeout_s = schema, hints, error, timeout_s
        self._con: sqlite3.Connection | None = None
        self._pid = os.getpid()
        with self.guard():
            self._open()

    # ---- errors ----------------------------------------------------------------------------------

    def corrupt(self, e: BaseException) -> NasoaError:
        """The one-line error for a file that is not intact."""
        return self.error(f"{self.hints.what} {self.path} is unreadable ({_one_line(e)}); {self.hints.corrupt}")

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turns SQLite's exceptions into one-line :attr:`error` naming the file."""
        try:
            yield
        except sqlite3.OperationalError as e:
            msg = str(e)
            if "locked" in msg or "busy" in msg:
                raise self.error(f"{self.hints.what} {self.path} stayed locked for {self.timeout_s:.0f}s by another "
                                 f"process; retry when it is done") from None
            if "readonly" in msg or "unable to open" in msg or "disk I/O" in msg:
                raise self.error(f"cannot write {self.hints.what} {self.path} ({msg}); {self.hints.writable}") from None
            raise self.corrupt(e) from None
        except sqlite3.DatabaseError as e:
            raise self.corrupt(e) from None

    # ---- connection ------------------------------------------------------------------------------

    @property
    def con(self) -> sqlite3.Connection:
        if self._con is None or self._pid != os.getpid():  # a forked child opens its own connection
            self._open()
        assert self._con is not None
        return self._con

    def _open(self) -> None:
        self._con, self._pid = connect(self.path, self.timeout_s), os.getpid()
        self._ensure_schema()

    def close(self) -> None:
        if self._con is not None and self._pid == os.getpid():
            self._con.close()
        self._con = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception (Ctrl-C included) rolls back."""
        con = self.con
        with self.guard():
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")

    # ---- schema ----------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        con = self._con
        assert con is not None
        if not ({"meta", *self.schema.tables} & _tables(con)):
            with self.transaction() as c:
                if "meta" not in _tables(c):  # another process may have created it meanwhile
                    c.execute(META_TABLE)
                    self.schema.create(c)
                    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                              (str(self.schema.version),))
                    c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created', ?)", (utc_now("milliseconds"),))
            return
        version, current = self.schema_version(), self.schema.version
        if version > current:
            raise self.error(f"{self.hints.what} {self.path} has schema version {version}, newer than this nasoa "
                             f"understands ({current}); {self.hints.newer}")
        while version < current:
            step = self.schema.migrations.get(version)
            if step is None:
                raise self.error(f"{self.hints.what} {self.path} has schema version {version}, which cannot be "
                                 f"migrated; move it aside and {self.hints.restart}")
            with self.transaction() as c:
                if _version_in(c) == version:  # another process may have migrated it meanwhile
                    c.execute(META_TABLE)
                    step(c)
                    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                              (str(version + 1),))
                    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                              (f"migrated_{version}_to_{version + 1}", utc_now("milliseconds")))
            version = self.schema_version()

    def schema_version(self) -> int:
        """The version in the ``meta`` table (0 when there is none)."""
        with self.guard():
            return _version_in(self.con)

    # ---- the meta table --------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.guard():
            row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: Any, *, only_if_absent: bool = False) -> str:
        """Set a ``meta`` value; with ``only_if_absent`` keep an existing one. Returns the stored value."""
        with self.transaction() as con:
            verb = "INSERT OR IGNORE" if only_if_absent else "INSERT OR REPLACE"
            con.execute(f"{verb} INTO meta (key, value) VALUES (?, ?)", (key, str(value)))
            return con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    # ---- upkeep ----------------------------------------------------------------------------------

    def check(self) -> None:
        """SQLite's integrity check; raises :attr:`error` naming the file when it fails."""
        with self.guard():
            res = self.con.execute("PRAGMA integrity_check").fetchone()[0]
        if res != "ok":
            raise self.corrupt(RuntimeError(res))

    def checkpoint(self, mode: str = "TRUNCATE") -> tuple[int, int, int]:
        """Move the WAL's committed pages into the file (``PASSIVE``, ``FULL``, ``RESTART`` or
        ``TRUNCATE``); returns SQLite's ``(busy, wal pages, pages checkpointed)``."""
        if mode.upper() not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
            raise ValueError(f"unknown checkpoint mode {mode!r}")
        with self.guard():
            busy, log, done = self.con.execute(f"PRAGMA wal_checkpoint({mode.upper()})").fetchone()
        return int(busy), int(log), int(done)

    def snapshot(self, dst: str | os.PathLike) -> Path:
        """A consistent copy of this file at ``dst`` (SQLite's backup API), taken while others may write."""
        dst = Path(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with self.guard():
            target = sqlite3.connect(str(dst), timeout=self.timeout_s)
            try:
                self.con.backup(target)
            finally:
                target.close()
        return dst
