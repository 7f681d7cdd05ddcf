"""nasoa.core.sqlite: the one way nasoa opens SQLite (versioned schema, migrations, one-line errors,
transactions, integrity, checkpoint, consistent copies)."""

from __future__ import annotations

import sqlite3

import pytest

from nasoa.core.errors import NasoaError
from nasoa.core.sqlite import Hints, Schema, SqliteFile, SqliteFileError, copy_database


def _create(con: sqlite3.Connection) -> None:
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")


def _add_note(con: sqlite3.Connection) -> None:
    con.execute("ALTER TABLE items ADD COLUMN note TEXT")


V1 = Schema(version=1, create=_create, tables=("items",))
V2 = Schema(version=2, create=lambda con: (_create(con), _add_note(con)), migrations={1: _add_note}, tables=("items",))
HINTS = Hints(what="the test table")


def test_new_file_is_wal_versioned_and_migrates_once(tmp_path):
    path = tmp_path / "t.sqlite"
    db = SqliteFile(path, V1, HINTS)
    assert db.schema_version() == 1 and db.get_meta("created")
    assert db.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with db.transaction() as con:
        con.execute("INSERT INTO items (name) VALUES ('a')")
    db.close()
    db = SqliteFile(path, V2, HINTS)  # an older file is migrated in place
    assert db.schema_version() == 2 and db.get_meta("migrated_1_to_2")
    assert db.con.execute("SELECT name, note FROM items").fetchall() == [("a", None)]
    db.close()
    with pytest.raises(SqliteFileError, match="newer than this nasoa") as e:
        SqliteFile(path, V1, HINTS)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_transaction_rolls_back_and_errors_are_one_line(tmp_path):
    db = SqliteFile(tmp_path / "t.sqlite", V1, HINTS)
    with pytest.raises(KeyboardInterrupt):
        with db.transaction() as con:
            con.execute("INSERT INTO items (name) VALUES ('a')")
            raise KeyboardInterrupt
    assert db.con.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database " * 300)
    with pytest.raises(NasoaError) as e:
        SqliteFile(bad, V1, Hints(what="the test table", corrupt="move it aside"))
    assert str(e.value).startswith(f"the test table {bad} is unreadable") and "move it aside" in str(e.value)
    assert "\n" not in str(e.value)
    db.check()


def test_snapshot_copy_and_checkpoint_carry_committed_wal_content(tmp_path):
    db = SqliteFile(tmp_path / "t.sqlite", V1, HINTS)
    with db.transaction() as con:
        con.executemany("INSERT INTO items (name) VALUES (?)", [(f"n{i}",) for i in range(50)])
    # the writer stays open: the rows may sit in the WAL, and the copies must hold them
    copied = copy_database(db.path, tmp_path / "copy" / "c.sqlite")
    snap = db.snapshot(tmp_path / "snap.sqlite")
    for p in (copied, snap):
        assert SqliteFile(p, V1, HINTS).con.execute("SELECT count(*) FROM items").fetchone()[0] == 50
    busy, _, _ = db.checkpoint()
    assert busy == 0 and not (tmp_path / "t.sqlite-wal").stat().st_size
    with pytest.raises(SqliteFileError, match="no such file"):
        copy_database(tmp_path / "missing.sqlite", tmp_path / "x.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()  # the source is never created


def test_two_processes_creating_one_new_store_together_both_open_it(tmp_path):
    # Switching a new file to WAL answered "locked" at once (not through the busy timeout): two
    # processes that created one store together failed in 5 of 15 tries.
    import subprocess
    import sys
    import time

    code = ("import sys, time\nfrom nasoa.meta.store import ExperienceStore\n"
            "t0 = float(sys.argv[2])\nwhile time.time() < t0: pass\n"
            "ExperienceStore(sys.argv[1]).runs()\nprint('ok')")
    for i in range(6):
        path = tmp_path / f"s{i}.sqlite"
        start = str(time.time() + 2.0)  # both past their imports, then at once
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path), start], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and out.strip() == "ok", err
