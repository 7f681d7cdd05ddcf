"""``search.sqlite``, the search's table: one row per evaluated candidate, written by the driver
alone (workers never open it) as each candidate finishes, so a re-run continues where it stopped.

Opened through :mod:`nasoa.core.sqlite` (WAL, busy timeout, one transaction per write) with a schema
version in its ``meta`` table: version 1 is the table as it has always been, and a file written
before the version was kept is stamped 1 on opening, unchanged otherwise.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from nasoa.core.runtime import utc_now
from nasoa.core.sqlite import Hints, Schema, SqliteFile

__all__ = ["SearchStore", "SEARCH_SCHEMA_VERSION"]

SEARCH_SCHEMA_VERSION = 1


def _create(con: sqlite3.Connection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS candidates (id INTEGER PRIMARY KEY, phase TEXT NOT NULL, "
        "encoding TEXT NOT NULL UNIQUE, parent TEXT, how TEXT, status TEXT NOT NULL, accuracy REAL, "
        "step_ms REAL, params INTEGER, macs INTEGER, proxy_steps INTEGER, eval_s REAL, error TEXT, "
        "created TEXT NOT NULL)"
    )


def _stamp_unversioned(con: sqlite3.Connection) -> None:
    """A table from before the schema version was kept is version 1 as it stands."""
    _create(con)


SCHEMA = Schema(version=SEARCH_SCHEMA_VERSION, create=_create, migrations={0: _stamp_unversioned},
                tables=("candidates",))
HINTS = Hints(what="the search table", corrupt="move it away to start a new search",
              writable="pass --out in a folder you may write to", restart="start a new search")


class SearchStore:
    """``search.sqlite``: one row per candidate, committed when it finishes (WAL, atomic)."""

    COLUMNS = ("id", "phase", "encoding", "parent", "how", "status", "accuracy", "step_ms", "params",
               "macs", "proxy_steps", "eval_s", "error", "created")

    def __init__(self, path: Path, *, timeout_s: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.sql = SqliteFile(self.path, SCHEMA, HINTS, timeout_s=timeout_s)

    def schema_version(self) -> int:
        return self.sql.schema_version()

    def config(self) -> dict[str, Any] | None:
        value = self.sql.get_meta("config")
        return json.loads(value) if value is not None else None

    def set_config(self, cfg: dict[str, Any]) -> None:
        self.sql.set_meta("config", json.dumps(cfg))

    def rows(self, phase: str | None = None, status: str | None = "done") -> list[dict[str, Any]]:
        q = f"SELECT {', '.join(self.COLUMNS)} FROM candidates WHERE 1=1"
        args: list[Any] = []
        if phase:
            q += " AND phase=?"
            args.append(phase)
        if status:
            q += " AND status=?"
            args.append(status)
        with self.sql.guard():
            rows = self.sql.con.execute(q + " ORDER BY id", args).fetchall()
        return [dict(zip(self.COLUMNS, r)) for r in rows]

    def encodings(self) -> set[str]:
        with self.sql.guard():
            return {r[0] for r in self.sql.con.execute("SELECT encoding FROM candidates")}

    def add(self, row: dict[str, Any]) -> None:
        cols = [c for c in self.COLUMNS if c != "id"]
        row = {**row, "created": row.get("created") or utc_now()}
        with self.sql.transaction() as con:
            con.execute(
                f"INSERT OR REPLACE INTO candidates ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [row.get(c) for c in cols],
            )

    def close(self) -> None:
        self.sql.close()
