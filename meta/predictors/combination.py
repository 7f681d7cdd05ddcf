"""The online product: LightGBM plus a river forest, blended by their measured prequential errors
or with river learning LightGBM's residuals."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasoa.core.errors import NasoaError

from .base import Predictor, _sha256
from .lgbm import LGBMPredictor
from .river_forest import RiverPredictor
from .schema import _clean, _empty_frame, _frame

if TYPE_CHECKING:
    import polars as pl

__all__ = ["CombinedPredictor"]


class CombinedPredictor(Predictor):
    """LightGBM (warm-started every few rows, refit now and then) plus a river forest learning
    every row over a bounded window.

    ``mode="blend"`` (the default of :class:`nasoa.meta.MetaModel`): both learn ``y``; prediction =
    ``w * lgbm + (1 - w) * river``, with ``w`` from the parts' prequential errors on the accuracy
    level: LightGBM's without its within-task part (which orders a task's regimes, with a spread
    set by its weight rather than by accuracy: judged with it, LightGBM's squared error looked
    worse and handed river the blend: 3.24 points of regret families out against 3.14 on 2,908 runs), i.e. their
    errors on rows each predicted before learning them: over the last ``err_window`` scored rows,
    ``w`` is the weight in [0, 1] that minimises the blend's own squared error there (least
    squares on one parameter: ``sum(r_river * (r_river - r_lgbm)) / sum((r_river - r_lgbm)^2)``
    with residuals ``r = y - prediction``). Inverse-error weights were tried first: they kept
    giving a part with 14x the error of the other 7% of the weight, which cost top-1 regret. A
    bulk start measures the first errors the same way: LightGBM fitted without the most recent
    tasks, river having learned the rows before them, both predicting those tasks' rows (the last
    ``err_window`` at most); with no measured row yet, ``w = 0.5``.

    ``mode="residual"``: river learns ``y - lgbm(x)`` on the rows since LightGBM's last full refit
    and is reset at each refit; prediction = lgbm + river. LightGBM is not warm-started here (the
    residuals river learned would go stale).
    """

    kind = "combo"
    # What the combination changes in its parts' defaults (the online product: bounded costs).
    BASE_DEFAULTS: ClassVar[dict[str, Any]] = {"objective": "regression", "warm_every": 10, "warm_rounds": 5,
                                               "warm_window": 200, "max_warm_trees": 100,
                                               "inline_refit_rows": 5000}
    ONLINE_DEFAULTS: ClassVar[dict[str, Any]] = {"window": 128}

    def __init__(self, seed: int = 0, *, mode: str = "blend", base: Mapping[str, Any] | None = None,
                 online: Mapping[str, Any] | None = None, err_window: int = 100, decay: float | None = None):
        super().__init__(seed)
        if mode not in ("residual", "blend"):
            raise NasoaError(f"unknown combination mode {mode!r}; use residual or blend")
        _ = decay  # format 1's exponential decay of the errors: superseded by err_window
        self.mode, self.err_window = mode, int(err_window)
        base_p = {**self.BASE_DEFAULTS, "seed": seed, **({"warm_every": None} if mode == "residual" else {}),
                  **(base or {})}
        online_p = {**self.ONLINE_DEFAULTS, "seed": seed, **(online or {})}
        self.base = LGBMPredictor(**base_p)
        self.online = RiverPredictor(**online_p)
        # Residuals y - prediction of (lgbm, river) on the last err_window rows, each predicted before
        # it was learned.
        self._errors: deque[tuple[float, float]] = deque(maxlen=self.err_window)
        self.n_scored = 0
        self.upgraded = False  # loaded from an older format

    def describe(self) -> str:
        return f"combo-{self.mode}({self.base.describe()}+{self.online.describe()})"

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "mode": self.mode, "err_window": self.err_window, "base": self.base.params(),
                "online": self.online.params()}

    @property
    def mse(self) -> tuple[float, float] | None:
        """Mean squared prequential error of (lgbm, river) over the window; None before any row."""
        if not self._errors:
            return None
        a = np.asarray(self._errors, dtype=np.float64) ** 2
        return float(a[:, 0].mean()), float(a[:, 1].mean())

    @property
    def weight(self) -> float:
        """LightGBM's share of the blend (river has the rest): the least-squares convex weight on
        the window of prequential residuals."""
        if not self._errors:
            return 0.5
        a = np.asarray(self._errors, dtype=np.float64)
        rb, rr = a[:, 0], a[:, 1]
        d = rr - rb
        den = float((d * d).sum())
        return float(np.clip((rr * d).sum() / den, 0.0, 1.0)) if den > 0 else 0.5

    def state(self) -> dict[str, Any]:
        """The blend's weights, each part's measured error and what each has learned (``nasoa meta show``)."""
        m = self.mse
        out: dict[str, Any] = {"mode": self.mode, "rows": self.n_seen, "lightgbm": self.base.state(),
                               "river": {"model": self.online.describe(), "window": self.online.window,
                                         "rows_in_model": len(self.online._log), "rebuilds": self.online.rebuilds}}
        if self.mode == "blend":
            out["blend"] = {"weights": {"lightgbm": round(self.weight, 4), "river": round(1 - self.weight, 4)},
                            "mse": {"lightgbm": m[0], "river": m[1]} if m else None,
                            "blend_mse": self._blend_mse(),
                            "scored_rows": len(self._errors), "scored_total": self.n_scored,
                            "err_window": self.err_window}
        return out

    def _blend_mse(self) -> float | None:
        """The blend's own squared error over the window at the current weight."""
        if not self._errors:
            return None
        a = np.asarray(self._errors, dtype=np.float64)
        w = self.weight
        return float(((w * a[:, 0] + (1 - w) * a[:, 1]) ** 2).mean())

    def _score(self, pb: np.ndarray, pr: np.ndarray, y: np.ndarray) -> None:
        for rb, rr in zip(y - pb, y - pr):
            self._errors.append((float(rb), float(rr)))
        self.n_scored += len(y)

    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        xc = _clean(x)
        fitted = self.base.fitted
        self._seen(y)
        if self.mode == "residual":
            pb = self.base.predict_one(xc)
            fits = self.base.n_fits
            self.base.learn_one(xc, y, group)
            if self.base.n_fits != fits:  # LightGBM just refit on everything: start river afresh
                self.online.reset()
            elif fitted:
                self.online.learn_one(xc, float(y) - pb)
            return
        if fitted and self.online.n_seen:  # predict before learning: the prequential error
            level = self._level(_frame([xc]) if xc else _empty_frame(1))
            self._score(level, np.array([self.online.predict_one(xc)]), np.array([float(y)]))
        self.base.learn_one(xc, y, group)
        self.online.learn_one(xc, y)

    def learn_many(self, frame: pl.DataFrame) -> None:
        """Many rows at once: the first bulk fits LightGBM once on all of them (measuring the
        blend's first errors on the most recent tasks); later ones are scored before either part
        learns them (the last ``err_window``), then LightGBM takes them in one update and river
        skips to its window."""
        if frame.height == 0:
            return
        if self.mode == "residual":
            if not self.base.fitted:
                self.base.learn_many(frame)
                for v in frame["y"].to_list():
                    self._seen(v)
                return
            super().learn_many(frame)
            return
        if not self.base.fitted:
            self._bulk_start(frame)
        else:
            tail = frame.tail(self.err_window)
            if self.online.n_seen:
                self._score(self._level(tail), self.online.predict_many(tail),
                            tail["y"].cast(float).to_numpy())
            self.base.learn_many(frame)
            self.online.learn_many(frame)
        for v in frame["y"].to_list():
            self._seen(v)

    def _bulk_start(self, frame: pl.DataFrame) -> None:
        groups = frame["group"].cast(str).to_list() if "group" in frame.columns else ["_"] * frame.height
        order = list(dict.fromkeys(groups))
        # The most recent tasks, a fifth of the rows (at most err_window), held out to measure the errors.
        held: set[str] = set()
        n_held, want = 0, min(self.err_window, frame.height // 5)
        counts = Counter(groups)
        for g in reversed(order[1:]):
            if n_held >= want:
                break
            held.add(g)
            n_held += counts[g]
        mask = np.array([g in held for g in groups])
        if held and (~mask).sum() >= self.base.min_rows:
            import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

            head, block = frame.filter(pl.Series(~mask)), frame.filter(pl.Series(mask))
            probe = LGBMPredictor(**{**self.base.params(), "warm_every": None})
            probe.learn_many(head)
            self.online.learn_many(head)
            self._score(probe.predict_parts(block)[0], self.online.predict_many(block),
                        block["y"].cast(float).to_numpy())
            self.online.learn_many(block)
        else:
            self.online.learn_many(frame)
        self.base.learn_many(frame)

    def refit(self) -> None:
        self.base.refit()
        if self.mode == "residual":
            self.online.reset()

    @property
    def refit_due(self) -> bool:
        return self.base.refit_due

    def _level(self, frame: pl.DataFrame) -> np.ndarray:
        """LightGBM's accuracy level (its prediction without the within-task part): what the blend
        weighs against river."""
        return self.base.predict_parts(frame)[0]

    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        return self.combine(frame, *self.base.predict_parts(frame))

    def predict_accuracy_many(self, frame: pl.DataFrame) -> np.ndarray:
        """As :meth:`predict_many`, with LightGBM's accuracy level in place of its ranking score
        (blend); the residual mode's river learned the score's errors, so its sum is the accuracy."""
        return self.combine_accuracy(frame, *self.base.predict_parts(frame))

    def combine(self, frame: pl.DataFrame, level: np.ndarray, within: np.ndarray) -> np.ndarray:
        """:meth:`predict_many` from LightGBM's parts (``base.predict_parts``) already computed for
        ``frame``'s rows: a caller that scored every candidate re-scores the best few with river
        without asking the boosters again."""
        if frame.height == 0 or not self.base.fitted:
            return self.online.predict_many(frame) if self.mode == "blend" and self.online.n_seen else level + within
        if self.mode == "residual":
            return level + within + (self.online.predict_many(frame) if self.online.n_seen else 0.0)
        w = self.weight
        if not self.online.n_seen or w >= 1.0:  # river has no say: not asked (it costs ~0.15 ms a row)
            return level + within
        return w * (level + within) + (1 - w) * self.online.predict_many(frame)

    def combine_accuracy(self, frame: pl.DataFrame, level: np.ndarray, within: np.ndarray) -> np.ndarray:
        """:meth:`predict_accuracy_many` from LightGBM's parts already computed for ``frame``."""
        if self.mode == "residual" or frame.height == 0 or not self.base.fitted:
            return self.combine(frame, level, within)
        w = self.weight
        if not self.online.n_seen or w >= 1.0:
            return level
        return w * level + (1 - w) * self.online.predict_many(frame)

    def predict_std_many(self, frame: pl.DataFrame) -> np.ndarray | None:
        return self.online.predict_std_many(frame) if self.online.n_seen else None

    def feature_importances(self) -> dict[str, float] | None:
        return self.base.feature_importances()

    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        self.base.save(d / "base")
        self.online.save(d / "online")
        base_manifest = (d / "base" / "manifest.json").read_bytes()
        online_manifest = (d / "online" / "manifest.json").read_bytes()
        # The sub-manifests (which hold their own files' checksums) are checksummed here.
        return {}, {"errors": [list(e) for e in self._errors], "n_scored": self.n_scored, "y_sum": self._y_sum,
                    "y_n": self._y_n, "sub": {"base": _sha256(base_manifest), "online": _sha256(online_manifest)}}

    @classmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> CombinedPredictor:
        params = manifest["params"]
        p = cls(seed=params["seed"], mode=params["mode"], err_window=params.get("err_window", 100),
                base=params["base"], online=params["online"])
        st = manifest["state"]
        for name in ("base", "online"):
            if _sha256((d / name / "manifest.json").read_bytes()) != st["sub"][name]:
                raise NasoaError(f"{d / name / 'manifest.json'} fails its checksum; refit with `nasoa meta fit`")
        p.base = LGBMPredictor.load(d / "base")
        p.online = RiverPredictor.load(d / "online")
        if int(manifest.get("format_version", 1)) < 2:
            # Format 1 neither warm-started LightGBM in a blend nor bounded river: the current online
            # policy applies from here on (learned state is kept; river's log is cut at its next row).
            policy = {**cls.BASE_DEFAULTS, **({"warm_every": None} if p.mode == "residual" else {})}
            for k in ("warm_every", "warm_rounds", "warm_window", "max_warm_trees", "inline_refit_rows"):
                setattr(p.base, k, policy[k])
            p.online.window = w = cls.ONLINE_DEFAULTS["window"]
            if len(p.online._log) >= 2 * w:  # as if the window had applied all along: its last rows
                p.online._replay(p.online._log[-w:])
                p.online.rebuilds += 1
            p.upgraded = True  # the caller may save it again in the current format
        # Format 1 kept fixed prior errors ("err"), not measured ones: it starts unmeasured.
        p._errors.extend((float(a), float(b)) for a, b in st.get("errors", []))
        p.n_scored = int(st.get("n_scored", len(p._errors)))
        p._y_sum, p._y_n = float(st["y_sum"]), int(st["y_n"])
        return p
