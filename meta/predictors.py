"""Accuracy predictors behind one river-style protocol, saved without pickling anything.

Protocol (every back-end)::

    p.learn_one(x: dict, y: float, group: str | None = None)   # group: the task id
    p.predict_one(x: dict) -> float
    p.learn_many(frame)        # polars: feature columns plus "y" and (optional) "group"
    p.predict_many(frame) -> np.ndarray
    p.predict_std_many(frame) -> np.ndarray | None             # an uncertainty, where there is one
    p.save(directory); load_predictor(directory)

Features are dicts (or frame columns) of floats and strings; strings are categorical. Keys never
seen in training are ignored, missing keys are missing values, unseen categories (a new zoo
member) are missing values: no back-end fails on them. An untrained predictor predicts a prior
(the mean target seen so far, else 0.5).

Back-ends:

* :class:`LGBMPredictor` (``objective="regression"`` or ``"lambdarank"`` grouped by task), monotone
  non-decreasing in the budget features; warm-started boosting (``init_model``) on the recent rows
  every few new ones, full refits when the data has grown by ``refit_growth``.
* :class:`RiverPredictor`: a streaming adaptive random forest (or Hoeffding adaptive tree) over
  standard-scaled numbers and one-hot categories, updated by every ``learn_one``, optionally over a
  bounded window of the most recent rows.
* :class:`CombinedPredictor`: LightGBM warm-started and refit now and then, with river learning
  every row, either on LightGBM's residuals since its last refit (``mode="residual"``) or blended
  with a weight fitted to both parts' measured prequential errors (``mode="blend"``).

Saved formats (a directory with ``manifest.json`` listing every file's sha256, checked on load;
format 2, which reads format 1):

* LightGBM: the booster in LightGBM's own text model format (``booster.txt``), the feature schema
  (names, categorical levels) in the manifest, the rows of the last full fit as a parquet table
  (``table.parquet``, read only when a warm start or a refit needs it, and written again only
  after a refit) and the rows since (``recent.json``), so later refits and warm starts continue
  exactly where the saved one stopped.
* river: river has no documented model file format and its objects are foreign classes (some held
  in Rust: ``VectorDict`` leaf weights, drift detectors), which nasoa never unpickles and cannot
  rebuild from a JSON of their learned state. A river model here is a deterministic function of
  its constructor parameters, its seed and the ordered rows it learned, so the file is that:
  parameters plus the replay log (``replay.json``), checksummed; loading rebuilds the model and
  replays ``learn_one`` in order, giving the identical model (same river version; the manifest
  records it and loading under another warns). Replay costs about 2 ms per row (a 5-tree forest
  over the real features on this CPU), so the combination bounds river to a window of recent rows
  (:class:`RiverPredictor`'s ``window``): a load replays fewer than 2x the window, whatever the
  store's size.
"""

from __future__ import annotations

import abc
import hashlib
import json
import math
import warnings
from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasoa.errors import NasoaError

from .features import MONOTONE_FEATURES

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "Predictor",
    "FeatureSchema",
    "LGBMPredictor",
    "RiverPredictor",
    "CombinedPredictor",
    "PopularPredictor",
    "BACKENDS",
    "make_predictor",
    "load_predictor",
    "FORMAT",
]

FORMAT = "nasoa.meta.predictor"
FORMAT_VERSION = 2  # 2: LightGBM rows as a parquet table plus recent rows; river windows; measured blend errors
RESERVED = frozenset({"y", "group", "id", "created", "task_id"})


def _clean(x: Mapping[str, Any]) -> dict[str, float | str]:
    """Feature dict without reserved keys, private (``_``) keys and missing values."""
    out: dict[str, float | str] = {}
    for k, v in x.items():
        if k in RESERVED or k.startswith("_") or v is None:
            continue
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, (bool, int, float, np.integer, np.floating)):
            f = float(v)
            if math.isfinite(f):
                out[k] = f
    return out


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def _targets(frame: pl.DataFrame) -> tuple[list[dict[str, Any]], list[float], list[str]]:
    if "y" not in frame.columns:
        raise NasoaError("learn_many needs a 'y' column (the validation accuracy) in the frame")
    y = [float(v) for v in frame["y"].to_list()]
    g = [str(v) for v in frame["group"].to_list()] if "group" in frame.columns else ["_"] * frame.height
    feats = frame.drop([c for c in frame.columns if c in RESERVED or c.startswith("_")])
    rows = [_clean(r) for r in feats.to_dicts()] if feats.width else [{} for _ in range(frame.height)]
    return rows, y, g


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in ("nasoa", "lightgbm", "river", "numpy", "polars"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


# --------------------------------------------------------------------------------------------------
# Feature schema: dict features -> a numeric matrix


class FeatureSchema:
    """Column order and categorical levels fixed at fit time; unseen levels become NaN."""

    def __init__(self, numeric: list[str], categorical: dict[str, list[str]]):
        self.numeric = list(numeric)
        self.categorical = {k: list(v) for k, v in categorical.items()}
        self._maps = {k: {lv: float(i) for i, lv in enumerate(v)} for k, v in self.categorical.items()}

    @property
    def names(self) -> list[str]:
        return self.numeric + list(self.categorical)

    @classmethod
    def fit(cls, frame: pl.DataFrame) -> FeatureSchema:
        import polars as pl

        numeric, categorical = [], {}
        for c in sorted(frame.columns):
            if c in RESERVED or c.startswith("_"):
                continue
            dt = frame.schema[c]
            if dt in (pl.Utf8, pl.Categorical) or isinstance(dt, pl.Enum):
                categorical[c] = sorted(str(v) for v in frame[c].drop_nulls().unique().to_list())
            elif dt.is_numeric() or dt == pl.Boolean or dt == pl.Null:
                numeric.append(c)
        return cls(numeric, categorical)

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The frame as a float64 matrix in schema order: one polars query for every column."""
        import polars as pl

        n = frame.height
        out = np.full((n, len(self.numeric) + len(self.categorical)), np.nan, dtype=np.float64)
        schema = frame.schema
        text = (pl.Utf8, pl.Categorical)
        exprs, where = [], []
        for j, c in enumerate(self.numeric):
            if c in schema and schema[c] not in text:
                exprs.append(pl.col(c).cast(pl.Float64, strict=False).alias(f"_{j}"))
                where.append(j)
        off = len(self.numeric)
        for j, (c, mapping) in enumerate(self._maps.items()):
            if c in schema:
                exprs.append(pl.col(c).cast(pl.Utf8, strict=False)
                             .replace_strict(mapping, default=None, return_dtype=pl.Float64).alias(f"_{off + j}"))
                where.append(off + j)
        if exprs and n:
            out[:, where] = frame.select(exprs).to_numpy().astype(np.float64, copy=False)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categorical": self.categorical}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSchema:
        return cls(list(d["numeric"]), {k: list(v) for k, v in d["categorical"].items()})


# --------------------------------------------------------------------------------------------------


class Predictor(abc.ABC):
    """Base class: the shared protocol, the prior, saving with checksums."""

    kind: ClassVar[str] = ""

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self._y_sum = 0.0
        self._y_n = 0

    # -- protocol --------------------------------------------------------------------------------
    @abc.abstractmethod
    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        """Implemented by every back-end."""

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return float(self.predict_many(_frame([_clean(x)]) if _clean(x) else _empty_frame(1))[0])

    def learn_many(self, frame: pl.DataFrame) -> None:
        rows, y, g = _targets(frame)
        for x, yi, gi in zip(rows, y, g):
            self.learn_one(x, yi, gi)

    @abc.abstractmethod
    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        """Implemented by every back-end."""

    def predict_std_many(self, frame: pl.DataFrame) -> np.ndarray | None:
        return None

    @property
    def prior(self) -> float:
        return self._y_sum / self._y_n if self._y_n else 0.5

    def _seen(self, y: float) -> None:
        self._y_sum += float(y)
        self._y_n += 1

    @property
    def n_seen(self) -> int:
        return self._y_n

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """Implemented by every back-end."""

    def feature_importances(self) -> dict[str, float] | None:
        return None

    def describe(self) -> str:
        return self.kind

    # -- saving ----------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``manifest.json`` plus data files into ``directory`` (atomically, file by file)."""
        from nasoa.runtime import atomic_write_bytes, atomic_write_json

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files, state = self._save_files(d)
        hashes = {}
        for name, data in files.items():
            atomic_write_bytes(d / name, data)
            hashes[name] = _sha256(data)
        atomic_write_json(d / "manifest.json", {
            "format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind, "params": self.params(),
            "state": state, "files": hashes, "versions": _versions(),
        })
        return d

    @abc.abstractmethod
    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        """Implemented by every back-end."""

    @classmethod
    @abc.abstractmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> Predictor:
        """Implemented by every back-end."""


def _empty_frame(n: int) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame({"_row": np.zeros(n)})


# --------------------------------------------------------------------------------------------------
# LightGBM


class LGBMPredictor(Predictor):
    """LightGBM regressor (``objective="regression"``) or LambdaRank ranker grouped by task.

    The ranker's scores are mapped to an accuracy-like scale by a least-squares line fitted on the
    training rows; only their order within a task is meaningful. Both are monotone
    non-decreasing in :data:`nasoa.meta.features.MONOTONE_FEATURES`.

    Online, so that every row reaches the booster at a bounded cost:

    * ``learn_one`` buffers; every ``warm_every`` new rows the booster continues boosting
      ``warm_rounds`` trees (``init_model``) on the most recent ``warm_window`` rows (the new ones
      and those just before them, so that a few new rows do not make the trees overfit);
    * a full refit on every row is due once the rows have grown by ``refit_growth`` since the last
      one, or the warm updates have added ``max_warm_trees`` trees (it also picks up new
      categories). It runs at once while the rows number at most ``inline_refit_rows`` (None: any
      number); beyond that it is left for :meth:`refit` outside a user's budget (``refit_due``),
      and warm updates go on until they have added ``4 * max_warm_trees`` trees.

    The rows of the last full fit are kept as a polars table and saved as parquet, read back only
    when a warm update or a refit needs them: loading does not grow with them.
    """

    kind = "lgbm"

    def __init__(self, objective: str = "regression", seed: int = 0, *, n_rounds: int = 150,
                 learning_rate: float = 0.08, num_leaves: int = 15, min_rows: int = 8, refit_growth: float = 1.25,
                 warm_every: int | None = 5, warm_rounds: int = 10, warm_window: int = 200, max_warm_trees: int = 100,
                 inline_refit_rows: int | None = None, extra_params: Mapping[str, Any] | None = None):
        super().__init__(seed)
        if objective not in ("regression", "lambdarank"):
            raise NasoaError(f"unknown LightGBM objective {objective!r}; use regression or lambdarank")
        self.objective = objective
        self.n_rounds, self.learning_rate, self.num_leaves = int(n_rounds), float(learning_rate), int(num_leaves)
        self.min_rows, self.refit_growth = int(min_rows), float(refit_growth)
        self.warm_every, self.warm_rounds = (int(warm_every) if warm_every else None), int(warm_rounds)
        self.warm_window, self.max_warm_trees = int(warm_window), int(max_warm_trees)
        self.inline_refit_rows = int(inline_refit_rows) if inline_refit_rows is not None else None
        self.extra_params = dict(extra_params or {})
        # Rows of the last full fit (features, "y", "group"): a table, or its parquet bytes not yet read.
        self._table: pl.DataFrame | None = None
        self._table_blob: bytes | None = None
        self._n_fit = 0  # rows at the last full fit (the table's height)
        # Rows learned since the last full fit.
        self._rows: list[dict[str, Any]] = []
        self._y: list[float] = []
        self._g: list[str] = []
        self._booster = None
        self._schema: FeatureSchema | None = None
        self._pending = 0  # rows since the last full fit or warm update
        self._calib = (0.0, 1.0)
        self.n_fits = 0
        self.n_warm = 0  # warm updates since the last full fit
        self.warm_trees = 0  # trees they added
        self.refit_due = False
        self.fit_s: float | None = None  # seconds the last full fit took (information only)

    def describe(self) -> str:
        return "lgbm-ranker" if self.objective == "lambdarank" else "lgbm-regressor"

    def params(self) -> dict[str, Any]:
        return {"objective": self.objective, "seed": self.seed, "n_rounds": self.n_rounds,
                "learning_rate": self.learning_rate, "num_leaves": self.num_leaves, "min_rows": self.min_rows,
                "refit_growth": self.refit_growth, "warm_every": self.warm_every, "warm_rounds": self.warm_rounds,
                "warm_window": self.warm_window, "max_warm_trees": self.max_warm_trees,
                "inline_refit_rows": self.inline_refit_rows, "extra_params": self.extra_params}

    @property
    def n_rows(self) -> int:
        return self._n_fit + len(self._rows)

    def state(self) -> dict[str, Any]:
        """What the booster has learned and when it refits (for ``nasoa meta show``)."""
        return {"rows": self.n_rows, "rows_at_last_refit": self._n_fit, "full_fits": self.n_fits,
                "trees": self._booster.num_trees() if self._booster is not None else 0,
                "warm_updates_since_refit": self.n_warm, "warm_trees": self.warm_trees,
                "rows_pending": self._pending, "refit_due": self.refit_due,
                "last_fit_s": round(self.fit_s, 4) if self.fit_s is not None else None}

    def _lgb_params(self, n: int, schema: FeatureSchema) -> dict[str, Any]:
        p: dict[str, Any] = {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": max(2, min(20, n // 40)),
            "min_sum_hessian_in_leaf": 1e-6,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "cat_smooth": 5.0,
            "min_data_per_group": 3,
            "max_cat_to_onehot": 8,
            "max_bin": 63,
            "min_data_in_bin": 1,
            "monotone_constraints": [1 if c in MONOTONE_FEATURES else 0 for c in schema.names],
            "monotone_constraints_method": "intermediate",
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "seed": self.seed,
            "verbosity": -1,
        }
        if self.objective == "lambdarank":
            p["lambdarank_truncation_level"] = 30
            p["eval_at"] = [1, 3]
        p.update(self.extra_params)
        return p

    @staticmethod
    def _grades(y: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Accuracies -> integer relevance 0..20 within each task (LambdaRank labels)."""
        out = np.zeros(len(y), dtype=np.int32)
        for key in np.unique(g):
            m = g == key
            lo, hi = y[m].min(), y[m].max()
            out[m] = np.round(20 * (y[m] - lo) / (hi - lo)).astype(np.int32) if hi > lo else 0
        return out

    def _dataset(self, frame: pl.DataFrame, schema: FeatureSchema):
        """A LightGBM dataset of a frame holding features, ``y`` and ``group``."""
        import lightgbm as lgb

        x = schema.matrix(frame)
        ya = frame["y"].cast(float).to_numpy().astype(np.float64)
        kw: dict[str, Any] = {"feature_name": schema.names, "categorical_feature": list(schema.categorical),
                              "free_raw_data": True, "params": {"max_bin": 63, "min_data_in_bin": 1, "verbosity": -1}}
        if self.objective == "lambdarank":
            ga = np.asarray(frame["group"].cast(str).to_list())
            first: dict[str, int] = {}
            for i, key in enumerate(ga):
                first.setdefault(key, i)
            order = np.argsort(np.array([first[k] for k in ga]), kind="stable")
            x, ya, ga = x[order], ya[order], ga[order]
            _, starts, counts = np.unique(np.array([first[k] for k in ga]), return_index=True, return_counts=True)
            sizes = counts[np.argsort(starts)]
            return lgb.Dataset(x, self._grades(ya, ga), group=sizes, **kw), x, ya
        return lgb.Dataset(x, ya, **kw), x, ya

    # -- rows --------------------------------------------------------------------------------------
    def _stored(self) -> pl.DataFrame | None:
        """The rows of the last full fit (read from their parquet bytes on first use)."""
        if self._table is None and self._table_blob is not None:
            import io

            import polars as pl

            self._table = pl.read_parquet(io.BytesIO(self._table_blob))
        return self._table

    def _recent_frame(self, k: int | None = None) -> pl.DataFrame | None:
        """The last ``k`` rows (every row when None) as one frame with ``y`` and ``group``."""
        import polars as pl

        k = self.n_rows if k is None else min(k, self.n_rows)
        new = self._rows[len(self._rows) - min(k, len(self._rows)):]
        parts = []
        if k > len(new):
            old = self._stored()
            assert old is not None
            parts.append(old if k - len(new) >= old.height else old.tail(k - len(new)))
        if new:
            ys, gs = self._y[len(self._y) - len(new):], self._g[len(self._g) - len(new):]
            parts.append(_frame([{**x, "y": y, "group": g} for x, y, g in zip(new, ys, gs)]))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")

    # -- fitting -----------------------------------------------------------------------------------
    def _fit_full(self) -> None:
        import time

        import lightgbm as lgb

        t = time.perf_counter()
        frame = self._recent_frame()
        assert frame is not None
        schema = FeatureSchema.fit(frame)
        self._table, self._table_blob, self._n_fit = frame, None, frame.height
        self._rows, self._y, self._g = [], [], []
        self._pending, self.n_warm, self.warm_trees, self.refit_due = 0, 0, 0, False
        if not schema.names:
            self._booster, self._schema = None, None
            return
        ds, x, ya = self._dataset(frame, schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            booster = lgb.train(self._lgb_params(len(ya), schema), ds, num_boost_round=self.n_rounds,
                                keep_training_booster=True)
        self._booster, self._schema = booster, schema
        self.n_fits += 1
        if self.objective == "lambdarank":
            s = booster.predict(x, num_threads=1)
            if np.ptp(s) > 0:
                b, a = np.polyfit(s, ya, 1)
                self._calib = (float(a), float(max(b, 1e-6)))
            else:
                self._calib = (float(ya.mean()), 0.0)
        self.fit_s = time.perf_counter() - t

    def _warm(self) -> None:
        import lightgbm as lgb

        assert self._schema is not None
        frame = self._recent_frame(max(self.warm_window, self._pending))
        assert frame is not None
        ds, _, ya = self._dataset(frame, self._schema)
        params = self._lgb_params(len(ya), self._schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._booster = lgb.train(params, ds, num_boost_round=self.warm_rounds, init_model=self._booster,
                                      keep_training_booster=True)
        self._pending = 0
        self.n_warm += 1
        self.warm_trees += self.warm_rounds

    def _update(self) -> None:
        n = self.n_rows
        if n < self.min_rows:
            return
        if self._booster is None:
            self._fit_full()
            return
        if n >= self.refit_growth * self._n_fit or self.warm_trees >= self.max_warm_trees:
            if self.inline_refit_rows is None or n <= self.inline_refit_rows:
                self._fit_full()
                return
            self.refit_due = True  # left for refit() outside the budget; warm updates go on meanwhile
        if self.warm_every and self._pending >= self.warm_every and self.warm_trees < 4 * self.max_warm_trees:
            self._warm()

    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        self._rows.append(_clean(x))
        self._y.append(float(y))
        self._g.append(str(group if group is not None else x.get("task_id", "_")))
        self._seen(y)
        self._pending += 1
        self._update()

    def learn_many(self, frame: pl.DataFrame) -> None:
        rows, y, g = _targets(frame)
        if not rows:
            return
        self._rows += rows
        self._y += y
        self._g += g
        for v in y:
            self._seen(v)
        self._pending += len(rows)
        self._update()

    def refit(self) -> None:
        """A full refit on every row learned so far."""
        if self.n_rows >= self.min_rows:
            self._fit_full()

    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        if frame.height == 0:
            return np.zeros(0)
        if self._booster is None or self._schema is None:
            return np.full(frame.height, self.prior)
        s = self._booster.predict(self._schema.matrix(frame), num_threads=1)
        a, b = self._calib
        return a + b * s if self.objective == "lambdarank" else s

    def feature_importances(self) -> dict[str, float] | None:
        if self._booster is None or self._schema is None:
            return None
        gain = self._booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return dict(sorted(((n, float(v) / total) for n, v in zip(self._schema.names, gain)), key=lambda t: -t[1]))

    # -- saving --------------------------------------------------------------------------------------
    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        files = {"recent.json": json.dumps({"x": self._rows, "y": self._y, "group": self._g}).encode()}
        if self._n_fit:
            if self._table_blob is None:  # written once per full fit, then the same bytes
                import io

                buf = io.BytesIO()
                self._stored().write_parquet(buf, statistics=False)
                self._table_blob = buf.getvalue()
            files["table.parquet"] = self._table_blob
        if self._booster is not None:
            files["booster.txt"] = self._booster.model_to_string().encode()
        state = {"n_fit": self._n_fit, "pending": self._pending, "calib": list(self._calib), "n_fits": self.n_fits,
                 "n_warm": self.n_warm, "warm_trees": self.warm_trees, "refit_due": self.refit_due,
                 "fit_s": self.fit_s, "y_sum": self._y_sum, "y_n": self._y_n,
                 "schema": self._schema.to_dict() if self._schema is not None else None}
        return files, state

    @classmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> LGBMPredictor:
        import lightgbm as lgb

        p = cls(**manifest["params"])
        st = manifest["state"]
        p._n_fit, p._pending, p.n_fits = int(st["n_fit"]), int(st["pending"]), int(st["n_fits"])
        p.n_warm, p.warm_trees = int(st.get("n_warm", 0)), int(st.get("warm_trees", 0))
        p.refit_due, p.fit_s = bool(st.get("refit_due", False)), st.get("fit_s")
        if "rows.json" in files:  # format 1: every row as JSON; those of the last full fit become the table
            rows = json.loads(files["rows.json"])
            x, y, g = rows["x"], [float(v) for v in rows["y"]], [str(v) for v in rows["group"]]
            k = p._n_fit
            if k:
                p._table = _frame([{**r, "y": yi, "group": gi} for r, yi, gi in zip(x[:k], y[:k], g[:k])])
            p._rows, p._y, p._g = x[k:], y[k:], g[k:]
        else:
            recent = json.loads(files["recent.json"])
            p._rows, p._y, p._g = recent["x"], [float(v) for v in recent["y"]], [str(v) for v in recent["group"]]
            p._table_blob = files.get("table.parquet")
        p._calib = (float(st["calib"][0]), float(st["calib"][1]))
        p._y_sum, p._y_n = float(st["y_sum"]), int(st["y_n"])
        if "booster.txt" in files and st.get("schema"):
            p._booster = lgb.Booster(model_str=files["booster.txt"].decode())
            p._schema = FeatureSchema.from_dict(st["schema"])
        return p


# --------------------------------------------------------------------------------------------------
# river


class RiverPredictor(Predictor):
    """A streaming regressor: river's adaptive random forest (``model="arf"``, with an uncertainty:
    the spread of its trees) or Hoeffding adaptive tree (``"hat"``), over standard-scaled numbers
    and one-hot categories. Every ``learn_one`` updates it.

    ``window`` bounds what it remembers, and so the cost of loading it: river models cannot be
    saved without pickle (see the module docstring), so the saved form is the ordered rows the
    model learned, replayed on load. With a window W the model is always the replay of its log:
    when the log reaches 2W rows it is cut to the last W and the model is rebuilt from them (W
    replays, once every W rows), so a load replays fewer than 2W rows however long the stream.
    ``None`` keeps every row (the stand-alone back-end in evaluations)."""

    kind = "river"

    def __init__(self, seed: int = 0, *, model: str = "arf", n_models: int = 5, grace_period: int = 50,
                 window: int | None = None):
        super().__init__(seed)
        if model not in ("arf", "hat"):
            raise NasoaError(f"unknown river model {model!r}; use arf or hat")
        if window is not None and int(window) < 1:
            raise NasoaError(f"the river window must hold at least one row, not {window}")
        self.model, self.n_models, self.grace_period = model, int(n_models), int(grace_period)
        self.window = int(window) if window is not None else None
        self._log: list[tuple[dict[str, Any], float]] = []
        self.rebuilds = 0
        self._build()

    def _build(self) -> None:
        import numbers

        from river import compose, forest, preprocessing, tree

        self._prep = compose.TransformerUnion(
            compose.SelectType(numbers.Number) | preprocessing.StandardScaler(),
            compose.SelectType(str) | preprocessing.OneHotEncoder(),
        )
        if self.model == "arf":
            self._reg = forest.ARFRegressor(n_models=self.n_models, seed=self.seed, grace_period=self.grace_period,
                                            leaf_prediction="adaptive")
        else:
            self._reg = tree.HoeffdingAdaptiveTreeRegressor(seed=self.seed, grace_period=self.grace_period,
                                                            leaf_prediction="adaptive")

    def describe(self) -> str:
        return f"river-{self.model}"

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "model": self.model, "n_models": self.n_models, "grace_period": self.grace_period,
                "window": self.window}

    def reset(self) -> None:
        self._log = []
        self._y_sum, self._y_n = 0.0, 0
        self._build()

    def _replay(self, log: list[tuple[dict[str, Any], float]]) -> None:
        """A fresh model that has learned exactly ``log``, in order."""
        self.reset()
        for xc, y in log:
            self._learn_clean(xc, y)

    def _learn_clean(self, xc: dict[str, Any], y: float) -> None:
        self._prep.learn_one(xc)
        self._reg.learn_one(self._prep.transform_one(xc), float(y))
        self._log.append((xc, float(y)))
        self._seen(y)

    def learn_one(self, x: Mapping[str, Any], y: float, group: str | None = None) -> None:
        self._learn_clean(_clean(x), float(y))
        if self.window is not None and len(self._log) >= 2 * self.window:
            self._replay(self._log[-self.window:])
            self.rebuilds += 1

    def learn_many(self, frame: pl.DataFrame) -> None:
        """Row by row, except that a window cut on the way is skipped to: the model after it is the
        replay of the last rows only, so only those are learned (the same model, fewer replays)."""
        rows, y, _ = _targets(frame)
        w, n = self.window, len(self._log) + len(rows)
        if w is None or n < 2 * w:
            for x, v in zip(rows, y):
                self._learn_clean(x, v)
            return
        keep = w + (n - 2 * w) % w  # the log's length after the last cut
        tail = (self._log + list(zip(rows, [float(v) for v in y])))[-keep:]
        self.rebuilds += 1 + (n - 2 * w) // w
        self._replay(tail)

    def _predict_clean(self, xc: dict[str, Any]) -> float:
        if not self._y_n:
            return self.prior
        v = self._reg.predict_one(self._prep.transform_one(xc))
        return float(v) if v is not None and math.isfinite(float(v)) else self.prior

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return self._predict_clean(_clean(x))

    def _dicts(self, frame: pl.DataFrame) -> list[dict[str, Any]]:
        keep = [c for c in frame.columns if c not in RESERVED and not c.startswith("_")]
        return [_clean(r) for r in frame.select(keep).to_dicts()] if keep else [{} for _ in range(frame.height)]

    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        return np.array([self._predict_clean(x) for x in self._dicts(frame)], dtype=np.float64)

    def predict_std_many(self, frame: pl.DataFrame) -> np.ndarray | None:
        if self.model != "arf":
            return None
        if not self._y_n:
            return np.full(frame.height, np.nan)
        out = []
        for x in self._dicts(frame):
            xt = self._prep.transform_one(x)
            out.append(float(np.std([m.predict_one(xt) for m in self._reg])))
        return np.array(out)

    def _save_files(self, d: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
        return ({"replay.json": json.dumps([[x, y] for x, y in self._log]).encode()},
                {"rows": len(self._log), "rebuilds": self.rebuilds})

    @classmethod
    def _load(cls, d: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> RiverPredictor:
        p = cls(**manifest["params"])
        saved = (manifest.get("versions") or {}).get("river")
        now = _versions().get("river")
        if saved and now and saved != now:
            warnings.warn(f"{d} was written with river {saved}; replaying it under river {now} may give a slightly "
                          f"different model", stacklevel=3)
        p._replay([(x, float(y)) for x, y in json.loads(files["replay.json"])])
        p.rebuilds = int(manifest["state"].get("rebuilds", 0))
        return p


# --------------------------------------------------------------------------------------------------
# The baseline: the regime that is most often best


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
        from .checks import _rank

        by_task: dict[str, list[tuple[dict[str, Any], float]]] = {}
        for x, y, g in self._rows:
            by_task.setdefault(g, []).append((x, y))
        wins: dict[tuple, float] = {}
        pct: dict[tuple, list[float]] = {}
        tasks: dict[tuple, set[str]] = {}
        for g, runs in by_task.items():
            ys = np.array([y for _, y in runs])
            best = ys == ys.max()
            ranks = _rank(ys) / max(1, len(ys) - 1)  # within-task percentile, ties averaged
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


# --------------------------------------------------------------------------------------------------
# The online combination


class CombinedPredictor(Predictor):
    """LightGBM (warm-started every few rows, refit now and then) plus a river forest learning
    every row over a bounded window.

    ``mode="blend"`` (the default of :class:`nasoa.meta.MetaModel`): both learn ``y``; prediction =
    ``w * lgbm + (1 - w) * river``, with ``w`` from the parts' prequential errors, i.e. their
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
        fitted = self.base._booster is not None
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
            self._score(np.array([self.base.predict_one(xc)]), np.array([self.online.predict_one(xc)]),
                        np.array([float(y)]))
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
            if self.base._booster is None:
                self.base.learn_many(frame)
                for v in frame["y"].to_list():
                    self._seen(v)
                return
            super().learn_many(frame)
            return
        if self.base._booster is None:
            self._bulk_start(frame)
        else:
            tail = frame.tail(self.err_window)
            if self.online.n_seen:
                self._score(self.base.predict_many(tail), self.online.predict_many(tail),
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
            import polars as pl

            head, block = frame.filter(pl.Series(~mask)), frame.filter(pl.Series(mask))
            probe = LGBMPredictor(**{**self.base.params(), "warm_every": None})
            probe.learn_many(head)
            self.online.learn_many(head)
            self._score(probe.predict_many(block), self.online.predict_many(block),
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

    def predict_many(self, frame: pl.DataFrame) -> np.ndarray:
        pb = self.base.predict_many(frame)
        if frame.height == 0 or self.base._booster is None:
            return self.online.predict_many(frame) if self.mode == "blend" and self.online.n_seen else pb
        if self.mode == "residual":
            return pb + (self.online.predict_many(frame) if self.online.n_seen else 0.0)
        w = self.weight
        if not self.online.n_seen or w >= 1.0:  # river has no say: not asked (it costs ~0.15 ms a row)
            return pb
        return w * pb + (1 - w) * self.online.predict_many(frame)

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
        p.base = load_predictor(d / "base")  # type: ignore[assignment]
        p.online = load_predictor(d / "online")  # type: ignore[assignment]
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


# --------------------------------------------------------------------------------------------------

_KINDS: dict[str, type[Predictor]] = {c.kind: c for c in (LGBMPredictor, RiverPredictor, CombinedPredictor,
                                                         PopularPredictor)}

# Named back-ends: name -> (kind, params). ``make_predictor(name, seed)`` builds one.
BACKENDS: dict[str, tuple[str, dict[str, Any]]] = {
    "lgbm-regressor": ("lgbm", {"objective": "regression"}),
    "lgbm-ranker": ("lgbm", {"objective": "lambdarank"}),
    "river": ("river", {"model": "arf"}),
    "combo-residual": ("combo", {"mode": "residual"}),
    "combo-blend": ("combo", {"mode": "blend"}),
    "most-often-best": ("popular", {}),  # the baseline, for evaluation
}


def make_predictor(name: str, seed: int = 0, **overrides: Any) -> Predictor:
    """A fresh predictor by back-end name (see :data:`BACKENDS`)."""
    if name not in BACKENDS:
        raise NasoaError(f"unknown predictor back-end {name!r}; choose one of {', '.join(BACKENDS)}")
    kind, params = BACKENDS[name]
    return _KINDS[kind](seed=seed, **{**params, **overrides})


def load_predictor(directory: str | Path) -> Predictor:
    """Load a predictor saved by :meth:`Predictor.save`, checking every file's sha256."""
    d = Path(directory)
    mpath = d / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError:
        raise NasoaError(f"no saved predictor in {d} (no manifest.json); fit one with `nasoa meta fit`") from None
    except (OSError, ValueError) as e:
        raise NasoaError(f"the predictor manifest {mpath} is unreadable ({e}); refit with `nasoa meta fit`") from None
    if manifest.get("format") != FORMAT or manifest.get("kind") not in _KINDS:
        raise NasoaError(f"{mpath} is not a nasoa predictor; refit with `nasoa meta fit`")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise NasoaError(f"{mpath} was written by a newer nasoa (format {manifest['format_version']}); upgrade nasoa")
    files = {}
    for name, want in (manifest.get("files") or {}).items():
        path = d / name
        try:
            data = path.read_bytes()
        except OSError:
            raise NasoaError(f"{path} is missing; the saved predictor in {d} is incomplete: refit with "
                             f"`nasoa meta fit`") from None
        if _sha256(data) != want:
            raise NasoaError(f"{path} fails its checksum; the saved predictor is corrupt: refit with `nasoa meta fit`")
        files[name] = data
    return _KINDS[manifest["kind"]]._load(d, manifest, files)

