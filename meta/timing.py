"""Calibrated step times: the zoo's profiled ``train_step_ms`` corrected by what runs measured here.

The zoo ships one step-time table per member (ms per step at each frozen-stage setting, batch 64,
measured once on the profiling machine). A run on another machine, with another thread count or
under load, steps at a different speed, and the factor differs by member (a depthwise-heavy net
and a dense one scale differently with threads). Every run records its measured median step time
(``extra.step_ms``, data pipeline included), so the time model learns the correction from them:

    log(measured / profiled) = g + r[member] + r[member, frozen] + noise

with the global term ``g`` and each residual the mean of its runs shrunk toward zero by
``prior_runs`` pseudo-runs (a member seen twice moves little; one seen 30 times is trusted).
Only runs from this machine and thread count enter (same CPU model and ``threads``), and not those
that shared their cores with other work (``cpu_share`` below :data:`MIN_CPU_SHARE`): the shipped
experience, collected elsewhere, does not bias a user's machine. Without such runs the profiled
table stands (times ``$NASOA_MACHINE_FACTOR`` when set).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["calibrate_records", "calibrated_zoo", "PRIOR_RUNS"]

PRIOR_RUNS = 3.0
# A run that got less of its cores than this (``extra.cpu_share``, where recorded) shared them with
# other work: its step time measures the contention, not the machine.
MIN_CPU_SHARE = 0.8
_CLIP = 2.5  # |log ratio| above this (12x) is a broken measurement, not a speed


def _ref(record: Mapping[str, Any], frozen: int) -> float | None:
    table = record.get("train_step_ms") or {}
    if not table:
        return None
    keys = sorted(int(k) for k in table)
    k = min(keys, key=lambda j: (abs(j - frozen), j))
    v = table.get(str(k))
    return float(v) if v else None


def calibrate_records(records: Sequence[Mapping[str, Any]], timings: Iterable[Mapping[str, Any]], *,
                      cpu: str | None, threads: int, prior_runs: float = PRIOR_RUNS,
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Zoo records with ``train_step_ms`` corrected by the measured ``timings`` of this machine
    (rows of :meth:`nasoa.meta.store.ExperienceStore.timings`), and a summary of the correction."""
    by_name = {str(r["name"]): r for r in records}
    obs: list[tuple[str, int, float]] = []
    for t in timings:
        if int(t.get("threads") or 0) != int(threads) or (cpu and t.get("cpu") and t.get("cpu") != cpu):
            continue
        if t.get("cpu_share") is not None and float(t["cpu_share"]) < MIN_CPU_SHARE:
            continue
        rec = by_name.get(str(t.get("model_name")))
        measured = t.get("step_ms")
        if rec is None or not measured or not math.isfinite(float(measured)):
            continue
        frozen = int(t.get("frozen_stages") or 0)
        ref = _ref(rec, frozen)
        if not ref:
            continue
        batch = float(t.get("batch_size") or rec.get("train_step_batch") or 64)
        expected = ref * batch / float(rec.get("train_step_batch") or 64)
        lr = max(-_CLIP, min(_CLIP, math.log(float(measured) / expected)))
        obs.append((str(rec["name"]), frozen, lr))
    summary: dict[str, Any] = {"runs": len(obs), "threads": int(threads), "cpu": cpu, "prior_runs": prior_runs}
    if not obs:
        summary["global_factor"] = 1.0
        return [dict(r) for r in records], summary
    g = sum(v for _, _, v in obs) / (len(obs) + prior_runs)
    member_sum: dict[str, list[float]] = defaultdict(list)
    for name, _, v in obs:
        member_sum[name].append(v - g)
    r_m = {m: sum(vs) / (len(vs) + prior_runs) for m, vs in member_sum.items()}
    cell: dict[tuple[str, int], list[float]] = defaultdict(list)
    for name, frozen, v in obs:
        cell[(name, frozen)].append(v - g - r_m[name])
    r_mf = {k: sum(vs) / (len(vs) + prior_runs) for k, vs in cell.items()}
    out = []
    factors: dict[str, dict[str, float]] = {}
    for r in records:
        rec = dict(r)
        name = str(rec["name"])
        table = {str(k): float(v) for k, v in (rec.get("train_step_ms") or {}).items()}
        if table:
            f = {k: math.exp(g + r_m.get(name, 0.0) + r_mf.get((name, int(k)), 0.0)) for k in table}
            rec["train_step_ms"] = {k: round(table[k] * f[k], 3) for k in table}
            rec["profiled_step_ms"] = table
            factors[name] = {k: round(v, 4) for k, v in f.items()}
        out.append(rec)
    summary.update({"global_factor": round(math.exp(g), 4), "factors": factors,
                    "runs_per_member": {m: len(v) for m, v in member_sum.items()}})
    return out, summary


def calibrated_zoo(store: Any = None, zoo: Sequence[Mapping[str, Any]] | None = None,
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(records, calibration)``: the zoo's member records (default: the registry's) with their step
    times corrected by what the store's recent runs measured on this machine (a bounded query),
    unless $NASOA_MACHINE_FACTOR overrides the speed. What the time model reads; it needs no
    predictor, so a caller can check a budget before loading one."""
    import os

    from .descriptors import ENV_MACHINE_FACTOR, zoo_records

    records = [dict(r) for r in (zoo if zoo is not None else zoo_records())]
    if store is None or os.environ.get(ENV_MACHINE_FACTOR):
        return records, {}
    from nasoa.runtime import available_cores, cpu_model

    return calibrate_records(records, store.timings(), cpu=cpu_model(), threads=available_cores())
