"""The experience store's schema (version 2) and the migrations that bring an older store to it.

Each migration runs in its own transaction through :class:`nasoa.core.sqlite.SqliteFile`, which
keeps the version in the ``meta`` table; a store is never rewritten, only altered in place.
"""

from __future__ import annotations

import sqlite3

from nasoa.core.sqlite import Schema

__all__ = ["SCHEMA_VERSION", "SCHEMA", "MIGRATIONS"]

SCHEMA_VERSION = 2

_V2_RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL,
    created TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_spec TEXT,
    task_features TEXT NOT NULL DEFAULT '{}',
    model_name TEXT NOT NULL,
    model_features TEXT NOT NULL DEFAULT '{}',
    regime TEXT NOT NULL DEFAULT '{}',
    budget_s REAL,
    val_accuracy REAL,
    elapsed_s REAL,
    diverged INTEGER NOT NULL DEFAULT 0,
    stop_reason TEXT,
    seed INTEGER,
    versions TEXT NOT NULL DEFAULT '{}',
    strategy TEXT,
    run_dir TEXT,
    extra TEXT NOT NULL DEFAULT '{}'
)
"""
_V2_EXTRAS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS runs_uid ON runs(uid)",
    "CREATE INDEX IF NOT EXISTS runs_task ON runs(task_id)",
    """CREATE TABLE IF NOT EXISTS tasks (
        task_id TEXT PRIMARY KEY,
        task_spec TEXT,
        features TEXT NOT NULL,
        updated TEXT NOT NULL
    )""",
)


def create_current(con: sqlite3.Connection) -> None:
    """The current tables in a new store (the ``meta`` table exists already)."""
    con.execute(_V2_RUNS)
    for sql in _V2_EXTRAS:
        con.execute(sql)


def _migrate_1_to_2(con: sqlite3.Connection) -> None:
    """v1 (the first prototype) had no uid, stop_reason, strategy, run_dir, extra, and no task cache."""
    have = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
    for col, decl in (("uid", "TEXT"), ("stop_reason", "TEXT"), ("strategy", "TEXT"), ("run_dir", "TEXT"),
                      ("extra", "TEXT NOT NULL DEFAULT '{}'")):
        if col not in have:
            con.execute(f"ALTER TABLE runs ADD COLUMN {col} {decl}")
    con.execute("UPDATE runs SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL")
    con.execute("UPDATE runs SET strategy = 'unknown' WHERE strategy IS NULL")
    con.execute("UPDATE runs SET stop_reason = CASE WHEN diverged THEN 'diverged' ELSE 'unknown' END "
                "WHERE stop_reason IS NULL")
    for sql in _V2_EXTRAS:
        con.execute(sql)


# version N -> function migrating N to N+1, run in one transaction each
MIGRATIONS = {1: _migrate_1_to_2}

SCHEMA = Schema(version=SCHEMA_VERSION, create=create_current, migrations=MIGRATIONS, tables=("runs",))
