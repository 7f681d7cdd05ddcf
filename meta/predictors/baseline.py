"""The common-practice baseline for evaluations: the regime that was most often best."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasoa.core.errors import NasoaError

from .base import Predictor

if TYPE_CHECKING:
    import polars as pl

__all__ = ["PopularPredictor"]


class PopularPredictor(Predictor):
    """The common-practice baseline: ignore the task, prefer the regime that was most often best.

    Within each task of the training data the best run "wins" (ties share the win). A regime's
    score is its share of wins among the runs it appeared in, smoothed towards the overall win rate
    (``smoothing`` pseudo-runs), plus a tie-breaker: 1e-3 times its mean within-task percentile of
    accuracy. Random experience rarely repeats an exact regime across tasks, so the score backs off
    from (member, lr, frozen stages, schedule, optimizer) to (member, frozen stages, lr), (member,
    frozen stages), (member) and the global prior, using the most specific key seen on at least
    ``min_tasks`` tasks. The budget is not part of the key. ``lr`` is read from ``lr`` or, in a
    learn frame (which keeps only its log), ``lr_log10``.

    The output is a ranking score, not an accuracy: compare its rankings (Spearman, regret, NDCG);
    its mean absolute error is meaningless.
    """

    kind = "popular"
    REGIME: ClassVar[tuple[str, ...]] = ("model_name", "lr", "frozen_stages", "schedule", "optimizer")
    KEYS: ClassVar[tuple[tuple[str, ...], ...]] = (
        REGIME,
        ("model_name", "frozen_stages", "lr"),
        ("model_name", "frozen_stages"),
        ("model_name",),
    )

    def __init__(self, seed: int = 0, *, min_tasks: int = 2, smoothing: float = 1.0):
        super().__init__(seed)
        self.min_tasks, self.smoothing = int(min_tasks), float(smoothing)
        self._rows: list[tuple[dict[str, Any], float, str]] = []
        self._table: dict[tuple, tuple[float, int]] | None = None  # key -> (score, tasks); rebuilt lazily
        self._global = 0.0

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "min_tasks": self.min_tasks, "smoothing": self.smoothing}

    @classmethod
    def _regime(cls, x: Mapping[str, Any]) -> dict[str, Any]:
        """The key columns of a row, canonical (numbers to 6 significant digits; missing -> None)."""
        out: dict[str, Any] = {}
        for n in cls.REGIME:
            v = x.get(n)
            if n == "lr" and v is None and x.get("lr_log10") is not None:
                v = 10.0 ** float(x["lr_log10"])
            if isinstance(v, (bool, int, float, np.integer, np.floating)):
                v = float(f"{float(v):.6g}") if math.isfinite(float(v)) else None
            elif v is not None:
                v = str(v)
            out[n] = v
        return out

    @classmethod
    def _dicts(cls, frame: pl.DataFrame) -> list[dict[str, Any]]:
        cols = [c for c in (*cls.REGIME, "lr_log10") if c in frame.columns]
        return frame.select(cols).to_dicts() if cols else [{} for _ in range(frame.height)]

    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        self._rows.append((self._regime(x), float(y), str(group if group is not None else "_")))
        self._seen(y)
        self._table = None

    def learn_many(self, frame: pl.DataFrame) -> None:
        if "y" not in frame.columns:
            raise NasoaError("learn_many needs a 'y' column (the validation accuracy) in the frame")
        g = frame["group"].to_list() if "group" in frame.columns else [None] * frame.height
        for x, y, gi in zip(self._dicts(frame), frame["y"].to_list(), g):
            self.learn_one(x, y, gi)

    def _build(self) -> None:
        from scipy.stats import rankdata  # lazy: scipy.stats (~1 s); loads on first use

        by_task: dict[str, list[tuple[dict[str, Any], float]]] = {}
        for x, y, g in self._rows:
            by_task.setdefault(g, []).append((x, y))
        wins: dict[tuple, float] = {}
        pct: dict[tuple, list[float]] = {}
        tasks: dict[tuple, set[str]] = {}
        for g, runs in by_task.items():
            ys = np.array([y for _, y in runs])
            best = ys == ys.max()
            ranks = (rankdata(ys) - 1) / max(1, len(ys) - 1)  # within-task percentile, ties averaged
            for (x, _), won, r in zip(runs, best, ranks):
                for names in self.KEYS:
                    k = (names, *(x[n] for n in names))
                    wins[k] = wins.get(k, 0.0) + (1.0 / best.sum() if won else 0.0)
                    pct.setdefault(k, []).append(float(r))
                    tasks.setdefault(k, set()).add(g)
        rate = len(by_task) / len(self._rows)  # one win per task, shared among its runs
        s = self.smoothing
        self._table = {k: ((wins[k] + s * rate) / (len(ps) + s) + 1e-3 * float(np.mean(ps)), len(tasks[k]))
                       for k, ps in pct.items()}
        self._global = rate + 1e-3 * 0.5

    def _score(self, x: dict[str, Any]) -> float:
        assert self._table is not None
        for names in self.KEYS:
            hit = self._table.get((names, *(x[n] for n in names)))
            if hit is not None and hit[1] >= self.min_tasks:
                return hit[0]
        return self._global

    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        if frame.height == 0:
            return np.zeros(0)
        if not self._rows:
            return np.full(frame.height, self.prior)
        if self._table is None:
            self._build()
        return np.array([self._score(self._regime(x)) for x in self._dicts(frame)], dtype=np.float64)

    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        return {"rows.json": json.dumps([[x, y, g] for x, y, g in self._rows]).encode()}, {"rows": len(self._rows)}

    @classmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> PopularPredictor:
        p = cls(**manifest["params"])
        for x, y, g in json.loads(files["rows.json"]):
            p.learn_one(x, y, g)
        return p
