"""How good is a predictor at choosing regimes? Leave-tasks-out and online (prequential) evaluation.

Per task (a group of runs on one task): the Spearman correlation between predicted and actual
accuracy, the top-1 regret (best actual accuracy in the task minus the actual accuracy of the
run the predictor ranks first) and NDCG@3 with gains ``y - min(y)`` within the task (raw
accuracies would make every NDCG look close to 1).

A task's runs span several budgets, so its regret also counts ranking a short run above a long
one. ``nasoa adapt`` is given its budget and chooses among regimes at that budget: the **per
decision** reading (:func:`decision_metrics`) regroups the same held-out predictions by task and
budget, over the decisions with two runs or more.

The overall regrets carry a 95% bootstrap interval over tasks (or decisions), ``regret_ci``: how far
the mean would move on another draw of tasks like these, to read a difference between two means or
against a bar by.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasoa.core.figures import figure, save_png

from .metrics import ndcg, spearman

if TYPE_CHECKING:
    import polars as pl

    from .predictors import Predictor

__all__ = ["OFFERED", "task_metrics", "summarize", "mean_interval", "regret_floor", "decision_key", "decision_metrics",
           "leave_tasks_out", "leave_families_out", "prequential", "select_backend", "plot_predicted_vs_actual"]

Factory = Callable[[int], "Predictor"]
#: A frame's optional column: whether a run's regime is one the model's grid offers (what adapt
#: chooses among). With it the summaries add ``per_decision_offered``.
OFFERED = "_offered"


def task_metrics(pred: np.ndarray, frame: pl.DataFrame, accuracy: np.ndarray | None = None) -> pl.DataFrame:
    """One row per task: runs, Spearman, top-1 regret, NDCG@3 (of the ranking scores ``pred``),
    mean absolute error (of the predicted accuracies ``accuracy``; default: ``pred``). With a
    ``model_name`` column, ``regret_member``: the part of the regret that picking the wrong member
    costs (the task's best run minus the best run of the first-ranked run's member); the rest is the
    right member's wrong regime."""
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    y = frame["y"].to_numpy().astype(float)
    g = frame["group"].to_numpy()
    member = frame["model_name"].cast(pl.Utf8).to_numpy() if "model_name" in frame.columns else None
    acc = np.asarray(pred if accuracy is None else accuracy)
    rows = []
    for key in dict.fromkeys(g.tolist()):
        m = g == key
        yt, pt = y[m], np.asarray(pred)[m]
        best = int(np.argmax(pt))
        rows.append({
            "task": key, "runs": int(m.sum()),
            "spearman": spearman(pt, yt) if m.sum() >= 3 else float("nan"),
            "regret": float(yt.max() - yt[best]),
            "regret_member": (float(yt.max() - yt[member[m] == member[m][best]].max()) if member is not None
                              else float("nan")),
            "ndcg3": ndcg(pt, yt, 3),
            "mae": float(np.abs(acc[m] - yt).mean()),
        })
    return pl.DataFrame(rows, schema={"task": pl.Utf8, "runs": pl.Int64, "spearman": pl.Float64,
                                      "regret": pl.Float64, "regret_member": pl.Float64, "ndcg3": pl.Float64,
                                      "mae": pl.Float64})


def regret_floor(frame: pl.DataFrame, seed: int = 0, draws: int = 2000) -> dict[str, Any] | None:
    """The top-1 regret that luck alone leaves, from validation sampling: a predictor that knew
    every run's expected accuracy (taken to be the accuracy it reached) picks each task's best run,
    and every run's outcome is drawn again as ``Binomial(n_val, accuracy) / n_val`` (``n_val``: the
    task's validation images, ``task_num_val``). Mean and median over tasks of two or more runs;
    None without ``task_num_val``.

    A lower bound: training noise (another seed, another order of batches) comes on top
    (bench/results/noise-20261202/ measured 2.6 points of sd at lr < 0.03, 6.3 above), and the
    observed accuracies are spread further apart than the expected ones. A mean regret close to
    this floor is as good as ranking gets on these runs."""
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    if frame.height == 0 or "task_num_val" not in frame.columns:
        return None
    rng = np.random.default_rng(seed)
    per = []
    for _, t in frame.select("group", "y", "task_num_val").group_by("group", maintain_order=True):
        y = np.clip(t["y"].cast(float).to_numpy(), 0.0, 1.0)
        n = t["task_num_val"].cast(float).to_numpy()
        if len(y) < 2 or not np.isfinite(n[0]) or n[0] < 1 or not np.isfinite(y).all():
            continue
        nv = int(n[0])
        z = rng.binomial(nv, y, size=(draws, len(y))) / nv
        per.append(float((z.max(axis=1) - z[:, int(np.argmax(y))]).mean()))
    if not per:
        return None
    v = pl.Series(per)
    return {"tasks": len(per), "regret": round(float(v.mean()), 5), "regret_median": round(float(v.median()), 5)}


def decision_key(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``group`` set to its task and budget (``task@30.0``): one group per decision
    ``nasoa adapt`` makes, choosing a regime for a task at a given budget; only groups of two runs
    or more are kept (one run leaves nothing to choose). Unchanged without a ``budget_s`` column."""
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    if "budget_s" not in frame.columns:
        return frame
    out = frame.with_columns((pl.col("group").cast(pl.Utf8) + "@"
                              + pl.col("budget_s").cast(pl.Float64).round(1).cast(pl.Utf8)).alias("group"))
    return out.filter(pl.len().over("group") >= 2)


def decision_metrics(preds: pl.DataFrame, interval: bool = False) -> dict[str, Any] | None:
    """Held-out predictions (``group``, ``budget_s``, ``y``, ``pred``, ``accuracy``) scored per
    decision (:func:`decision_key`): :func:`summarize`'s keys plus ``decisions``; None when no
    decision has two runs."""
    d = decision_key(preds)
    if d.height == 0 or "budget_s" not in preds.columns:
        return None
    s = summarize(task_metrics(d["pred"].to_numpy(), d, d["accuracy"].to_numpy()), interval=interval)
    s["decisions"] = s.pop("tasks")
    return s


def mean_interval(values: np.ndarray, level: float = 0.95, draws: int = 2000, seed: int = 0) -> list[float] | None:
    """A percentile-bootstrap interval of the mean (scipy's bootstrap, ``draws`` resamples, seeded:
    the same values give the same interval); None for fewer than two finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return None
    if np.ptp(v) == 0:
        return [round(float(v[0]), 5)] * 2
    from scipy.stats import bootstrap  # lazy: scipy.stats (~1 s); evaluation only

    ci = bootstrap((v,), np.mean, n_resamples=draws, confidence_level=level, method="percentile",
                   rng=np.random.default_rng(seed), vectorized=True).confidence_interval
    return [round(float(ci.low), 5), round(float(ci.high), 5)]


def summarize(per_task: pl.DataFrame, interval: bool = False) -> dict[str, Any]:
    """Means (and the median Spearman and regret) over ``per_task``'s rows; with ``interval`` also
    ``regret_ci``, the regret's 95% bootstrap interval over them (:func:`mean_interval`)."""
    def mean(col: str) -> float | None:
        v = per_task[col].drop_nans().drop_nulls()
        return round(float(v.mean()), 5) if v.len() else None

    out = {
        "tasks": per_task.height,
        "spearman": mean("spearman"),
        "spearman_median": (round(float(per_task["spearman"].drop_nans().drop_nulls().median()), 5)
                            if per_task["spearman"].drop_nans().drop_nulls().len() else None),
        "regret": mean("regret"),
        "regret_member": mean("regret_member") if "regret_member" in per_task.columns else None,
        "regret_median": round(float(per_task["regret"].median()), 5) if per_task.height else None,
        "ndcg3": mean("ndcg3"),
        "mae": mean("mae"),
    }
    if interval:
        out["regret_ci"] = mean_interval(per_task["regret"].to_numpy()) if per_task.height else None
    return out


def _member(frame: pl.DataFrame) -> list[str]:
    """The member column where the frame has one (for the regret's member part)."""
    return ["model_name"] if "model_name" in frame.columns else []


def _budget(frame: pl.DataFrame) -> list[str]:
    """The budget column where the frame has one (for the per-decision reading)."""
    return ["budget_s"] if "budget_s" in frame.columns else []


def _offered(frame: pl.DataFrame) -> list[str]:
    """The ``_offered`` column where the frame has one: which runs ran a regime the model's grid
    offers (:func:`nasoa.meta.candidates.offered`); never learned from (a ``_`` column)."""
    return [OFFERED] if OFFERED in frame.columns else []


def _offered_decisions(preds: pl.DataFrame) -> dict[str, Any] | None:
    """The per-decision reading over the runs the grid offers, where some runs lie outside it."""
    if OFFERED not in preds.columns or bool(preds[OFFERED].all()):
        return None
    return decision_metrics(preds.filter(preds[OFFERED]), interval=True)


def _folds(groups: Sequence[str], folds: int, seed: int) -> list[list[str]]:
    uniq = list(dict.fromkeys(groups))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    k = max(2, min(folds, len(uniq)))
    return [[uniq[i] for i in order[j::k]] for j in range(k)]


def leave_tasks_out(frame: pl.DataFrame, factory: Factory, folds: int = 5, seed: int = 0,
                    ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """K-fold cross-validation over tasks: each fold's tasks are predicted by a predictor that never
    saw them. Returns (predictions: group, y, pred; per-task metrics; summary)."""
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    groups = frame["group"].to_list()
    if len(set(groups)) < 2:
        raise ValueError("leave-tasks-out evaluation needs runs on at least two tasks")
    if "family" in frame.columns:
        frame = frame.drop("family")
    parts = []
    for held in _folds(groups, folds, seed):
        test_mask = frame["group"].is_in(held)
        p = factory(seed)
        p.learn_many(frame.filter(~test_mask))
        test = frame.filter(test_mask)
        parts.append(test.select("group", "y", *_member(test), *_budget(test), *_offered(test)).with_columns(
            pl.Series("pred", p.predict_many(test)), pl.Series("accuracy", p.predict_accuracy_many(test))))
    preds = pl.concat(parts)
    per_task = task_metrics(preds["pred"].to_numpy(), preds, preds["accuracy"].to_numpy())
    summary = summarize(per_task, interval=True)
    summary["per_decision"] = decision_metrics(preds, interval=True)
    summary["per_decision_offered"] = _offered_decisions(preds)
    return preds, per_task, summary


def leave_families_out(frame: pl.DataFrame, factory: Factory, seed: int = 0,
                       ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Hold out one task family at a time (column ``family``): its tasks are ranked by a predictor
    fitted on the other families only, as a user's task from an unseen kind of data would be.
    Returns (predictions, per-task metrics with their family, summary with a per-family table)."""
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    fams = list(dict.fromkeys(frame["family"].to_list()))
    if len(fams) < 2:
        raise ValueError("leave-one-family-out evaluation needs runs from at least two families")
    parts = []
    for fam in fams:
        test_mask = frame["family"] == fam
        p = factory(seed)
        p.learn_many(frame.filter(~test_mask).drop("family"))
        held = frame.filter(test_mask)
        test = held.drop("family")
        parts.append(held.select("group", "family", "y", *_member(held), *_budget(held), *_offered(held)).with_columns(
            pl.Series("pred", p.predict_many(test)), pl.Series("accuracy", p.predict_accuracy_many(test))))
    preds = pl.concat(parts)
    per_task = task_metrics(preds["pred"].to_numpy(), preds, preds["accuracy"].to_numpy())
    fam_of = dict(zip(preds["group"].to_list(), preds["family"].to_list()))
    per_task = per_task.with_columns(pl.Series("family", [fam_of[t] for t in per_task["task"].to_list()]))
    summary = summarize(per_task, interval=True)
    summary["per_decision"] = decision_metrics(preds, interval=True)
    summary["per_decision_offered"] = _offered_decisions(preds)
    summary["families"] = {f: {**summarize(per_task.filter(pl.col("family") == f)),
                               "per_decision": decision_metrics(preds.filter(pl.col("family") == f))} for f in fams}
    return preds, per_task, summary


def prequential(frame: pl.DataFrame, factories: Mapping[str, Factory], warm_tasks: int = 10, seed: int = 0,
                ) -> dict[str, dict[str, Any]]:
    """The online protocol: tasks arrive in order (by first ``created``/row order); each back-end
    learns the first ``warm_tasks`` in bulk, then for every later task predicts its runs before
    learning them one by one (``learn_one``). Returns a summary per back-end."""
    groups = list(dict.fromkeys(frame["group"].to_list()))
    if len(groups) <= warm_tasks:
        raise ValueError(f"the online evaluation needs more than {warm_tasks} tasks; it has {len(groups)}")
    warm = frame.filter(frame["group"].is_in(groups[:warm_tasks]))
    out = {}
    for name, factory in factories.items():
        p = factory(seed)
        p.learn_many(warm)
        preds, accs, ys, gs = [], [], [], []
        for key in groups[warm_tasks:]:
            part = frame.filter(frame["group"] == key)
            preds.append(p.predict_many(part))
            accs.append(p.predict_accuracy_many(part))
            ys.append(part["y"].to_numpy())
            gs += [key] * part.height
            for row in part.to_dicts():
                y, g = row.pop("y"), row.pop("group")
                p.learn_one(row, y, g)
        import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

        pf = pl.DataFrame({"group": gs, "y": np.concatenate(ys)})
        out[name] = summarize(task_metrics(np.concatenate(preds), pf, np.concatenate(accs)))
    return out


def select_backend(frame: pl.DataFrame, factories: Mapping[str, Factory], folds: int = 3, seed: int = 0,
                   by: str = "task") -> tuple[str, dict[str, dict[str, Any]]]:
    """The back-end with the lowest mean top-1 regret (ties: the first listed), tasks held out in
    ``folds`` folds (``by="task"``) or one family at a time (``by="family"``: the frame has a
    ``family`` column)."""
    if by == "family":
        table = {name: leave_families_out(frame, f, seed)[2] for name, f in factories.items()}
        for s in table.values():
            s.pop("families", None)
    else:
        table = {name: leave_tasks_out(frame, f, folds, seed)[2] for name, f in factories.items()}
    best = min(table, key=lambda n: (table[n]["regret"] if table[n]["regret"] is not None else math.inf,
                                     list(table).index(n)))
    return best, table


def plot_predicted_vs_actual(preds: pl.DataFrame, path: str | Path, title: str = "") -> Path:
    """Scatter of predicted vs actual accuracy (held-out predictions) as a PNG."""
    y, p = preds["y"].to_numpy(), preds["accuracy" if "accuracy" in preds.columns else "pred"].to_numpy()
    fig, ax = figure(figsize=(4.5, 4.5), dpi=120)
    ax.scatter(y, p, s=8, alpha=0.6)
    lo = float(min(y.min(initial=0), p.min(initial=0)))
    hi = float(max(y.max(initial=1), p.max(initial=1)))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set_xlabel("actual validation accuracy")
    ax.set_ylabel("predicted (tasks held out)")
    ax.set_title(title or "predicted vs actual", fontsize=9)
    return save_png(fig, path)
