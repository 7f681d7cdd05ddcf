"""``search.sqlite``, the search's table: one row per evaluated candidate, written by the driver
alone (workers never open it) as each candidate finishes, so a re-run continues where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import utc_now

__all__ = ["SearchStore"]


class SearchStore:
    """``search.sqlite``: one row per candidate, committed when it finishes (WAL, atomic)."""

    COLUMNS = ("id", "phase", "encoding", "parent", "how", "status", "accuracy", "step_ms", "params",
               "macs", "proxy_steps", "eval_s", "error", "created")

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS candidates (id INTEGER PRIMARY KEY, phase TEXT NOT NULL, "
                "encoding TEXT NOT NULL UNIQUE, parent TEXT, how TEXT, status TEXT NOT NULL, accuracy REAL, "
                "step_ms REAL, params INTEGER, macs INTEGER, proxy_steps INTEGER, eval_s REAL, error TEXT, "
                "created TEXT NOT NULL)"
            )
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.db.commit()
        except sqlite3.DatabaseError as e:
            raise NasoaError(f"the search table {self.path} is corrupt ({e}); move it away to start a new search") from None

    def config(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        return json.loads(row[0]) if row else None

    def set_config(self, cfg: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)", (json.dumps(cfg),))

    def rows(self, phase: str | None = None, status: str | None = "done") -> list[dict[str, Any]]:
        q = "SELECT * FROM candidates WHERE 1=1"
        args: list[Any] = []
        if phase:
            q += " AND phase=?"
            args.append(phase)
        if status:
            q += " AND status=?"
            args.append(status)
        cur = self.db.execute(q + " ORDER BY id", args)
        return [dict(zip(self.COLUMNS, r)) for r in cur.fetchall()]

    def encodings(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT encoding FROM candidates")}

    def add(self, row: dict[str, Any]) -> None:
        cols = [c for c in self.COLUMNS if c != "id"]
        row = {**row, "created": row.get("created") or utc_now()}
        with self.db:
            self.db.execute(
                f"INSERT OR REPLACE INTO candidates ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [row.get(c) for c in cols],
            )

    def close(self) -> None:
        self.db.close()
