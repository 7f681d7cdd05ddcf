"""The run dirs under a folder, one row each (``nasoa runs``): what ran, how it ended, what it reached.

A platform that adapts to many customers' tasks, or a practitioner who tried a few budgets, ends with
a folder of run dirs (``runs/`` by default); this reads their manifests, never their weights, so a
folder of hundreds lists in well under a second.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from nasoa.core.errors import NasoaError
from nasoa.core.train.checkpoint import MANIFEST_KIND

SORT_KEYS = ("created", "val", "run")


def _row(run: Path, m: dict[str, Any]) -> dict[str, Any]:
    result, model, task = m.get("result") or {}, m.get("model") or {}, m.get("task") or {}
    adapt = m.get("adapt") or {}
    export = run / "export"
    return {
        "run": str(run),
        "created": m.get("created"),
        "status": m.get("status"),
        "command": m.get("command") or ("adapt" if adapt else "train"),
        "strategy": adapt.get("strategy"),
        "data": adapt.get("data") or task.get("name"),
        "classes": task.get("num_classes"),
        "model": model.get("name"),
        "regime": {k: (m.get("regime") or {}).get(k) for k in ("lr", "frozen_stages", "optimizer", "schedule")},
        # the training steps' arithmetic (nasoa train --precision); fp32 for runs recorded before it was kept
        "precision": (result.get("precision") or {}).get("name", "fp32"),
        "budget_s": result.get("budget_s"),
        "elapsed_s": adapt.get("elapsed_s", result.get("elapsed_s")),
        "epochs": result.get("epochs"),
        "planned_epochs": adapt.get("planned_epochs"),
        "val_accuracy": result.get("val_accuracy"),
        "val_balanced_accuracy": result.get("val_balanced_accuracy"),
        "predicted_accuracy": adapt.get("predicted_accuracy"),
        "exported": sorted(p.name for p in export.iterdir() if p.suffix in (".onnx", ".pt2")) if export.is_dir()
        else [],
    }


def _manifest(path: Path) -> dict[str, Any] | None:
    """The run manifest at ``path``; None for another tool's manifest.json; ValueError when damaged."""
    try:
        m = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(str(e)) from None
    if not isinstance(m, dict):
        raise ValueError("not a JSON object")
    return m if m.get("kind") == MANIFEST_KIND else None


def list_runs(folders: list[str | Path], sort: str = "created") -> tuple[list[dict[str, Any]], list[str]]:
    """Rows for every run dir among ``folders`` (a run dir itself, or a folder whose subfolders are run
    dirs), sorted by ``sort`` (``created``, ``val``: best first, ``run``); and the paths of
    ``manifest.json`` files that could not be read (damaged), which are left out."""
    if sort not in SORT_KEYS:
        raise NasoaError(f"unknown --sort {sort!r}; use one of {', '.join(SORT_KEYS)}")
    rows, damaged = [], []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise NasoaError(f"{folder} is not a folder; pass the folder your runs are in (nasoa train and nasoa "
                             f"adapt write them under runs/ unless --out says otherwise)")
        candidates = [folder] if (folder / "manifest.json").is_file() else sorted(
            p for p in folder.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
        for run in candidates:
            try:
                m = _manifest(run / "manifest.json")
            except ValueError:  # json.JSONDecodeError included
                damaged.append(str(run / "manifest.json"))
                continue
            if m is not None:
                rows.append(_row(run, m))
    if sort == "val":  # best first; a run without an accuracy (interrupted: nan) last
        rows.sort(key=lambda r: -r["val_accuracy"] if isinstance(r["val_accuracy"], float)
                  and not math.isnan(r["val_accuracy"]) else math.inf)
    else:
        rows.sort(key=lambda r: str(r[sort] or ""))
    return rows, damaged
