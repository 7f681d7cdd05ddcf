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

Modules, one concern each (after river's one module per estimator): :mod:`.schema` (dict features
-> a matrix), :mod:`.base` (the protocol and the saved form), :mod:`.lgbm`, :mod:`.river_forest`,
:mod:`.combination`, :mod:`.baseline` and :mod:`.registry` (back-ends by name). The shared check
suite is :mod:`nasoa.meta.checks`, kept out of these production imports.
"""

from __future__ import annotations

from .base import FORMAT, Predictor
from .baseline import PopularPredictor
from .combination import CombinedPredictor
from .lgbm import LGBMPredictor
from .registry import BACKENDS, load_predictor, make_predictor, saved_lgbm_params
from .river_forest import RiverPredictor
from .schema import FeatureSchema

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
    "saved_lgbm_params",
    "FORMAT",
]
