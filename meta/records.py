"""What one row of the experience store is: :class:`RunRecord`, and how it goes to and from SQLite.

A run crosses the store's boundary as a record (a dataclass), as a row of SQL values (JSON text for
the dict-valued columns; NaN as NULL, which SQLite has no NaN for), and as a polars frame.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from nasoa.core.runtime import json_default
from nasoa.core.runtime import utc_now

__all__ = ["RunRecord", "JSON_COLUMNS", "RUN_COLUMNS", "INSERT_RUN", "row_values", "decode_row", "to_json"]

# Columns holding JSON text; decoded to dicts on the way out.
JSON_COLUMNS = ("task_features", "model_features", "regime", "versions", "extra")
RUN_COLUMNS = (
    "id", "uid", "created", "task_id", "task_spec", "task_features", "model_name", "model_features",
    "regime", "budget_s", "val_accuracy", "elapsed_s", "diverged", "stop_reason", "seed", "versions",
    "strategy", "run_dir", "extra",
)
FLOAT_COLUMNS = ("budget_s", "val_accuracy", "elapsed_s")


@dataclass
class RunRecord:
    """One fine-tuning run as the store keeps it.

    ``task_features`` are the task's meta-features (``task_*`` keys, plus ``logme``: a dict of
    zoo member -> LogME score); ``model_features`` the member's descriptor (``model_*`` keys, plus
    ``_train_step_ms``/``_train_step_batch`` for the time model); ``regime`` a
    :class:`nasoa.core.train.Regime` as a dict. ``extra`` holds outcome details (steps, epochs achieved,
    measured step time, machine).
    """

    task_id: str
    model_name: str
    regime: dict[str, Any]
    budget_s: float
    val_accuracy: float
    task_spec: str = ""
    task_features: dict[str, Any] = field(default_factory=dict)
    model_features: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = float("nan")
    diverged: bool = False
    stop_reason: str = "planned"
    seed: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    strategy: str = "unknown"  # how the regime was chosen: random (collect), metamodel, user, ...
    run_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: utc_now("milliseconds"))
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunRecord:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d and d[k] is not None}
        return cls(**known)


def to_json(obj: Any) -> str:
    """A JSON column's text (``{}`` for ``None``; NaN kept, as Python writes it)."""
    return json.dumps(obj if obj is not None else {}, sort_keys=True, default=json_default, allow_nan=True)


def _num(x: Any) -> float | None:
    """Floats as SQLite REAL; NaN becomes NULL (SQLite has no NaN)."""
    if x is None:
        return None
    v = float(x)
    return None if math.isnan(v) else v


INSERT_RUN = (
    "INSERT OR IGNORE INTO runs (uid, created, task_id, task_spec, task_features, model_name, model_features, "
    "regime, budget_s, val_accuracy, elapsed_s, diverged, stop_reason, seed, versions, strategy, run_dir, extra) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def row_values(r: RunRecord) -> tuple:
    """The values of :data:`INSERT_RUN` for a record."""
    return (
        r.uid, r.created, r.task_id, r.task_spec, to_json(r.task_features), r.model_name, to_json(r.model_features),
        to_json(r.regime), _num(r.budget_s), _num(r.val_accuracy), _num(r.elapsed_s), int(bool(r.diverged)),
        r.stop_reason, int(r.seed), to_json(r.versions), r.strategy, r.run_dir, to_json(r.extra),
    )


def decode_row(row: tuple) -> dict[str, Any]:
    """A row selected as :data:`RUN_COLUMNS` as a dict: JSON decoded, NULL floats back to NaN."""
    d = dict(zip(RUN_COLUMNS, row))
    for c in JSON_COLUMNS:
        d[c] = json.loads(d[c]) if d[c] else {}
    d["diverged"] = bool(d["diverged"])
    for c in FLOAT_COLUMNS:
        if d[c] is None:
            d[c] = float("nan")
    return d


def record_from_frame_row(row: dict[str, Any]) -> RunRecord:
    """A record from a row of a frame shaped like ``ExperienceStore.runs`` (JSON columns as dicts or text)."""
    for c in JSON_COLUMNS:
        v = row.get(c)
        if isinstance(v, str):
            row[c] = json.loads(v) if v else {}
    row.pop("id", None)
    if row.get("diverged") is not None:
        row["diverged"] = bool(row["diverged"])
    return RunRecord.from_dict(row)
