"""Candidate regimes: zoo members x learning rates x frozen stages x schedules x optimizers (x batch
sizes), with epochs derived from the budget, the data size and the member's measured step time
scaled to this machine. Built column-wise (numpy + polars), so thousands take milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nasoa.core.errors import BudgetTooSmallError, NasoaError

from .descriptors import MemberTable
from .features import TRANSFER_SCORES, TimeModel, derive, task_columns

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Grid", "enumerate_candidates", "candidate_regime", "REGIME_COLUMNS"]

REGIME_COLUMNS = ("model_name", "lr", "frozen_stages", "schedule", "optimizer", "batch_size", "input_size")


@dataclass(frozen=True)
class Grid:
    """The regime grid a recommendation searches. ``frozen_stages=None`` means every setting the
    member was profiled at (0 .. its number of stages). ``input_sizes``: the input sides (px) a
    member may run at, those up to the side it was profiled at (an ImageNet member profiled at 64 px
    may run at 32 or 48 for about 4x or 1.8x the steps) or, for a member whose record gives a larger
    ``max_input_size`` (the ImageNet members: the 224 px they were pretrained at), up to that (96 or 128
    px for at least 2.3x or 4x the step time) and, for a task, up to the side its images are held at;
    None: the profiled side only. The fixed fields are passed through to the regime unchanged."""

    lrs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    frozen_stages: tuple[int, ...] | None = None
    schedules: tuple[str, ...] = ("cosine", "step")
    optimizers: tuple[str, ...] = ("sgd", "adamw")
    batch_sizes: tuple[int, ...] = (64,)
    input_sizes: tuple[int, ...] | None = None
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup: float = 0.03
    augment: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["input_sizes"] is None:  # added later: absent unless set, so older grids compare equal
            del d["input_sizes"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Grid:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for k in ("lrs", "frozen_stages", "schedules", "optimizers", "batch_sizes", "input_sizes"):
            if kw.get(k) is not None:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    def fixed(self) -> dict[str, Any]:
        return {"weight_decay": self.weight_decay, "momentum": self.momentum, "warmup": self.warmup,
                "augment": self.augment}


def _grid_frame(members: MemberTable, grid: Grid) -> tuple[pl.DataFrame, np.ndarray]:
    """Members x frozen x lr x schedule x optimizer x batch: the task-independent part of the
    candidates (model and regime columns), built once per (zoo, grid) and cached on the table."""
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    cache = members.__dict__.setdefault("_grid_cache", {})
    if grid in cache:
        return cache[grid]
    # Members x frozen settings (members differ in their number of stages) x input sides.
    m_idx, frozen, step_ref, forward, size_exp, side = [], [], [], [], [], []
    profiled = members.columns.get("model_input_size", [None] * len(members))
    for i in range(len(members)):
        fz, ms, fw, se = members.frozen[i], members.step_ms[i], members.forward[i], members.size_exp[i]
        if grid.frozen_stages is not None:
            keep = np.isin(fz, np.asarray(grid.frozen_stages))
            fz, ms, fw, se = fz[keep], ms[keep], fw[keep], se[keep]
        ref = float(profiled[i]) if profiled[i] is not None else float("nan")
        cap = max(ref, members.max_side[i]) if np.isfinite(members.max_side[i]) else ref
        sides = sorted({float(s) for s in (grid.input_sizes or ()) if s <= cap}) or [ref]
        for s in sides:
            m_idx.append(np.full(len(fz), i))
            frozen.append(fz)
            step_ref.append(ms)
            forward.append(fw)
            size_exp.append(se)
            side.append(np.full(len(fz), s))
    m_idx_a = np.concatenate(m_idx)
    frozen_a = np.concatenate(frozen)
    step_a = np.concatenate(step_ref)
    side_a = np.concatenate(side)
    lrs = np.asarray(grid.lrs, dtype=np.float64)
    bss = np.asarray(grid.batch_sizes, dtype=np.int64)
    inner = len(lrs) * len(grid.schedules) * len(grid.optimizers) * len(bss)
    if inner == 0 or len(m_idx_a) == 0:
        raise NasoaError("the regime grid is empty; give at least one lr, schedule, optimizer and batch size")
    li, si, oi, bi = (a.reshape(-1) for a in np.meshgrid(np.arange(len(lrs)), np.arange(len(grid.schedules)),
                                                          np.arange(len(grid.optimizers)), np.arange(len(bss)),
                                                          indexing="ij"))
    rep = np.repeat(np.arange(len(m_idx_a)), inner)
    til = np.tile(np.arange(inner), len(m_idx_a))
    mi = m_idx_a[rep]
    cols: dict[str, Any] = {}
    for k, values in members.columns.items():
        if all(isinstance(v, str) or v is None for v in values):
            cols[k] = pl.Series(k, values, dtype=pl.Utf8).gather(mi)
        else:
            cols[k] = pl.Series(k, np.array([np.nan if v is None else v for v in values], dtype=np.float64)[mi])
    cols.update({
        "lr": lrs[li[til]],
        "frozen_stages": frozen_a[rep],
        "schedule": pl.Series("schedule", list(grid.schedules), dtype=pl.Utf8).gather(si[til]),
        "optimizer": pl.Series("optimizer", list(grid.optimizers), dtype=pl.Utf8).gather(oi[til]),
        "batch_size": bss[bi[til]],
        "_step_ms_ref": step_a[rep],
        "_forward_ratio": np.concatenate(forward)[rep],
        "_step_batch": members.step_batch[mi],
        "_size_ref": np.array([np.nan if v is None else float(v) for v in profiled], dtype=np.float64)[mi],
        "model_input_size": side_a[rep],
        "input_size": side_a[rep],  # the regime's side: what the run is prepared at
        **{c: v[mi] for c, v in members.time_terms.items()},
    })
    # A frozen setting's own size exponent, where calibrated, over the member's.
    by_setting = np.concatenate(size_exp)[rep]
    cols["_step_size_exp"] = np.where(np.isfinite(by_setting), by_setting, cols["_step_size_exp"])
    out = (pl.DataFrame(cols).with_columns(pl.col(k).fill_nan(None) for k, v in cols.items()
                                           if isinstance(v, np.ndarray) and v.dtype.kind == "f"), mi)
    cache[grid] = out
    return out


def enumerate_candidates(members: MemberTable, task_features: Mapping[str, Any], budget_s: float,
                         grid: Grid = Grid(), time_model: TimeModel = TimeModel(), *,
                         feasible_only: bool = True) -> pl.DataFrame:
    """Every (member, lr, frozen, schedule, optimizer, batch) for a task and budget, with features.

    Returns a frame holding the feature columns (``task_*``, ``model_*``, regime, budget,
    ``logme``) and the regime columns (``lr``, ...). A side above a member's profiled one comes only up to
    the task's ``task_image_size`` (the side its images are held at). With ``feasible_only``, candidates that cannot
    fit ``time_model.min_epochs`` in the budget are dropped; when none fits, raises
    :class:`NasoaError` naming the smallest budget that would.
    """
    import polars as pl  # lazy: polars; importing the meta-model stays light (budget checks, `nasoa --help`)

    if len(members) == 0:
        raise NasoaError("the zoo has no members with measured step times; run `nasoa zoo pretrain` first")
    base, mi = _grid_frame(members, grid)
    transfer = []
    for key in TRANSFER_SCORES:
        scores = dict(task_features.get(key) or {})
        finite = [float(v) for v in scores.values() if v is not None and math.isfinite(float(v))]
        per_member = np.array([float(scores[nm]) if scores.get(nm) is not None else np.nan for nm in members.names])
        transfer += [pl.Series(key, per_member[mi]).fill_nan(None),
                     pl.lit(max(finite) if finite else None, dtype=pl.Float64).alias(f"_{key}_max")]
    numeric = task_columns(task_features)
    lit = [pl.lit(v, dtype=pl.Float64).alias(k) for k, v in numeric.items()]
    frame = base.with_columns(*lit, pl.lit(float(budget_s), dtype=pl.Float64).alias("budget_s"), *transfer)
    held = numeric.get("task_image_size")
    if grid.input_sizes and held is not None and math.isfinite(held):  # without input_sizes: profiled sides only
        # A side above the member's profiled one is offered only up to the side the task's images are held at:
        # above it, upsampling adds steps (at least the square of the side) and no pixel, and the experience
        # holds runs above the profiled side only on tasks held at 96 px or more.
        frame = frame.filter((pl.col("input_size") <= pl.max_horizontal(pl.col("_size_ref"), pl.lit(held)))
                             | pl.col("input_size").is_null() | pl.col("_size_ref").is_null())
    frame = derive(frame, time_model)
    if feasible_only:
        ok = frame["_min_budget_s"] <= float(budget_s)
        if not ok.any():
            need = math.ceil(float(frame["_min_budget_s"].min()))
            raise BudgetTooSmallError(
                f"a budget of {budget_s:g}s is too small for every candidate regime on this task (the quickest needs "
                f"about {need}s for {time_model.min_epochs:g} epoch); pass --budget {need}s or more", need)
        frame = frame.filter(ok)
    return frame


def candidate_regime(row: Mapping[str, Any], grid: Grid = Grid()) -> dict[str, Any]:
    """A candidate row -> a dict for :meth:`nasoa.core.train.Regime.from_dict` (epochs fill the budget)."""
    return {
        "lr": float(row["lr"]),
        "frozen_stages": int(row["frozen_stages"]),
        "schedule": str(row["schedule"]),
        "optimizer": str(row["optimizer"]),
        "batch_size": int(row["batch_size"]),
        "epochs": None,
        **grid.fixed(),
    }


def candidate_side(row: Mapping[str, Any]) -> int | None:
    """A candidate's input side (px); None where the member has no profiled one (its own default)."""
    v = row.get("input_size")
    return int(v) if v is not None and math.isfinite(v) else None


def sample_regimes(members: MemberTable, task_features: Mapping[str, Any], budget_s: float, k: int,
                   rng: np.random.Generator, grid: Grid = Grid(), time_model: TimeModel = TimeModel(),
                   ) -> list[dict[str, Any]]:
    """``k`` distinct feasible candidates drawn uniformly (for collecting experience)."""
    frame = enumerate_candidates(members, task_features, budget_s, grid, time_model)
    pick = rng.choice(frame.height, size=min(k, frame.height), replace=False)
    return [frame.row(int(i), named=True) for i in pick]


__all__ += ["sample_regimes", "candidate_side"]


def _regime_key(name: Any, frozen: Any, lr: Any, schedule: Any, optimizer: Any, batch: Any, side: Any) -> tuple:
    """A regime as a hashable key: the learning rate by its log to 2 decimals (about 1%), the side
    None where unknown."""
    def num(v: Any) -> float | None:
        return float(v) if v is not None and math.isfinite(float(v)) else None

    lr_log = num(lr)
    return (str(name), None if frozen is None else int(frozen), None if lr_log is None else round(lr_log, 2),
            str(schedule), str(optimizer), None if batch is None else int(batch), num(side))


def offered(frame: pl.DataFrame, members: MemberTable, grid: Grid) -> np.ndarray:
    """Which runs of ``frame`` (training-frame rows: ``model_name``, ``lr_log10``, ``frozen_stages``,
    ``schedule``, ``optimizer``, ``batch_size``, ``model_input_size``) ran a regime ``grid`` offers
    the zoo's ``members``, i.e. one of the candidates it enumerates: what `nasoa adapt` could have
    picked. A collection may run more (the ImageNet members below their profiled side, rates outside
    the grid); evaluation reads the decisions among these apart."""
    if frame.height == 0:
        return np.zeros(0, dtype=bool)
    cand, _ = _grid_frame(members, grid)
    grid_keys = set(map(_regime_key, cand["model_name"], cand["frozen_stages"], np.log10(cand["lr"].to_numpy()),
                        cand["schedule"], cand["optimizer"], cand["batch_size"], cand["model_input_size"]))
    cols = [frame[c].to_list() if c in frame.columns else [None] * frame.height
            for c in ("model_name", "frozen_stages", "lr_log10", "schedule", "optimizer", "batch_size",
                      "model_input_size")]
    return np.fromiter((_regime_key(*row) in grid_keys for row in zip(*cols)), dtype=bool, count=frame.height)


__all__ += ["offered"]
