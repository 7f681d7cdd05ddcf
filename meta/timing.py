"""Calibrated time model terms: the zoo's profiled ``train_step_ms`` and the trainer's overheads,
corrected by what runs measured on this machine.

The zoo ships one step-time table per member (ms per step at each frozen-stage setting, batch 64,
measured once on the profiling machine). A run on another machine, with another thread count or
under load, steps at a different speed, and the factor differs by member (a depthwise-heavy net
and a dense one scale differently with threads). Every run records its measured median step time
(``extra.step_ms``, data pipeline included), its steps, and its budget, so the time model learns
two things from them (:func:`calibrate_records`):

* **Step time**, a robust regression on the log ratio of measured to profiled step time:

      log(measured / profiled) = g + b_batch*log(batch/64) + (b_size + d[member, frozen])*log(size/profiled size)
                                 + b_above*max(0, log(size/profiled size))
                                 + b_batch_size*log(batch/64)*log(size/profiled size)
                                 + b_threads*log(threads of the run/threads here)
                                 + b_ref*log(profiled/100 ms) + r[member] + r[member, frozen]

  (``b_above``: above its profiled side a step's pixels weigh more than its fixed part; ``b_batch_size``:
  the batch's exponent grows with the side for the same reason; ``d``: each setting's own size slope,
  fitted on what the rest leaves and shrunk by :data:`SIZE_PRIOR_RUNS`; all three from 2026-12-07,
  ``bench/results/time-model-20261207/``.)

  The slopes are fitted on within-member variation (member fixed effects), each shrunk toward its
  physical prior (linear in batch, quadratic in input side, ``threads**-0.7``, no compression);
  then ``g`` and the residuals are each the (Huber-weighted) mean of their runs
  shrunk toward zero by ``prior_runs`` pseudo-runs (a member seen twice moves little; one seen 30
  times is trusted). Runs here (one thread, ``bench/results/time-model-20261201``) put the batch
  exponent near 0.7 (a step has fixed costs) and ``b_ref`` near -0.45: the profiled table spreads
  members and frozen settings further apart than they step here, so a (member, frozen) setting
  never run here still moves with the ones that were. With runs at one thread count only, the
  thread slope stays at its prior.
* **Overheads**: what of the budget a run does not spend stepping, ``budget - margin - steps *
  step_ms``, is ``setup[member] + eval_factor * (val images * forward_ms / batch) + step_excess *
  steps * step_ms + stop_steps * step_ms`` (set-up: building the member, loading its weights,
  resizing the data; the final evaluation and its reserve, priced at a forward pass: the calibrated
  step with every stage frozen, :func:`~nasoa.meta.descriptors.forward_ratio`; the mean step
  exceeding the median one; the first steps' warm-up and the step that would overrun the planned
  stop). Fitted with the same robust, shrunk least squares, toward the
  :class:`~nasoa.meta.features.TimeModel` defaults.

The learned terms go into each member's record (``train_step_ms`` calibrated, the profiled one kept
as ``profiled_step_ms``; ``train_step_batch_exponent``, ``train_setup_s``, ``train_eval_factor``,
``train_step_excess``, ``train_stop_steps``), so every caller of the time model (candidates, collection,
adapt) reads the same terms through :class:`~nasoa.meta.descriptors.MemberTable`.

**Machine speed.** Every run records ``speed_probe_ms``, its machine's speed
(:func:`nasoa.core.profile.speed_probe_ms`: a fixed small CNN's step on one thread). With this
machine's probe and at least :data:`MIN_PROBED_RUNS` probed runs, each run's step time (and scoring
cost) is rescaled by ``probe here / probe there`` and runs from any CPU enter: two virtual machines
with the same CPU label stepped 1.5-2.2x apart, so the label alone planned 1.5-2.2x too few epochs on
the faster one. Runs without a probe (before 2026-12-02) from this CPU model then enter unscaled
with a free offset (the ``unprobed`` slope): they still teach how members and settings compare,
the probed runs set the level. Otherwise only runs from this CPU model enter, unscaled. The overheads come from runs at this
thread count, unscaled (the evaluation factor and the step excess are ratios to the step time).
**This machine's own runs.** The probe is one small dense CNN; members step at other ratios on
other CPUs (on an Intel Xeon VM the probe read 10% faster than on the AMD EPYC VM the experience was
collected on, while MobileNetV2 stepped 35% slower: plans 1.5x too long). So runs from this machine
(its CPU label, and a probe within :data:`HERE_PROBE_BAND` of this one's) also set an offset of their
own on top of the fit, globally and per member, each shrunk by :data:`HERE_PRIOR_RUNS` pseudo-runs
(from its runs at this process's thread count: a second thread helps members unequally; the global
offset is shrunk toward what its runs at other thread counts say, so one-thread runs of this machine
still correct a first plan on two): a few runs here bring the plan most of the way to what they
measured. ``nasoa zoo calibrate`` (:func:`nasoa.zoo.build.calibrate_members`) measures the same before
any run: it fine-tunes each member for a few seconds with the trainer, on random images, at one and at
every core, and its measurements, kept on the member records, count as runs here (each as
:data:`CALIBRATION_WEIGHT` of them; they teach no overheads).
Runs that shared their cores with other work (threads waiting for a core more than
:data:`MAX_CPU_WAIT` of the time, or, where that was not recorded, ``cpu_share`` below
:data:`MIN_CPU_SHARE`) never enter. Without usable runs the profiled table and the default overheads stand (times
``$NASOA_MACHINE_FACTOR`` when set).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from nasoa.core.deadline import margin_s
from nasoa.core.profile import speed_probe_ms
from nasoa.core.runtime import cpu_model, machine, training_threads

from .descriptors import ENV_MACHINE_FACTOR, forward_ratio, nearest_setting
from .features import EVAL_FACTOR, STOP_STEPS

__all__ = ["calibrate_records", "calibrated_zoo", "PRIOR_RUNS", "TIME_TERMS"]

PRIOR_RUNS = 1.0
# A run that got less of its cores than this (``extra.cpu_share``, where recorded) shared them with
# other work: its step time measures the contention, not the machine. A run on several threads gets
# well under one core per thread on its own (a step's serial parts leave the others idle: a
# two-thread adapt run read 0.68 on an idle machine), so where a run recorded how long its threads
# waited for a core (``extra.cpu_wait``, per wall second and thread) that judges it instead.
MIN_CPU_SHARE = 0.8
MAX_CPU_WAIT = 0.2
_CLIP = 2.5  # |log ratio| above this (12x) is a broken measurement, not a speed
# Runs with a speed probe needed before the probe, not the CPU label, decides which runs enter.
MIN_PROBED_RUNS = 20
_PROBE_CLIP = 8.0  # a probe ratio beyond 8x either way is a broken probe, not another machine
# A run is this machine's when its CPU label is this one's and its probe lies within this factor of
# this one's (two VMs with one label stepped up to 2.2x apart).
HERE_PROBE_BAND = 1.25
# Pseudo-runs this machine's own offsets are shrunk by: the machine's and then the member's offset
# each take half of what four runs here measured (three quarters of the way in all), twenty most of it.
HERE_PRIOR_RUNS = 4.0
# What one ``nasoa zoo calibrate`` measurement weighs, in runs: the median of a member's steps on an
# idle machine, in the setting it names, is less noisy than a run's (whose task, size and neighbours
# vary), and a calibration gives each member only its two frozen settings per thread count.
CALIBRATION_WEIGHT = 4.0
_HUBER = 1.345  # Huber's tuning constant, in robust standard deviations
# Priors of the step-time slopes: per-step cost linear in the batch, in the image's area, and
# threads giving less than linear speed-up.
PRIOR_SLOPES = {"batch": 1.0, "size": 2.0, "threads": -0.7, "ref": 0.0, "unprobed": 0.0, "batch_size": 0.0,
                "size_above": 0.0}
# Pseudo-runs (at a typical spread of sides) each (member, frozen) setting's own size slope is shrunk by.
SIZE_PRIOR_RUNS = 4.0
# The profiled step time at which the global factor is read (the ``ref`` slope pivots there).
_REF_MS = 100.0
# Defaults of the overhead terms (those of :class:`nasoa.meta.features.TimeModel`).
PRIOR_OVERHEAD = {"setup_s": 1.5, "eval_factor": EVAL_FACTOR, "step_excess": 0.0, "stop_steps": STOP_STEPS}
# Record keys carrying the calibrated terms to :class:`nasoa.meta.descriptors.MemberTable`.
TIME_TERMS = ("train_step_batch_exponent", "train_step_size_exponent", "train_step_size_exponents",
              "train_step_batch_size_exponent", "train_step_size_above_exponent", "train_setup_s",
              "train_eval_factor", "train_step_excess", "train_stop_steps", "transfer_image_ms")
# Scoring a member's transferability (``nasoa adapt``'s set-up): building it and loading its weights
# (this many seconds, by the cost model), then a forward pass per image. What runs measured sets
# each member's per-image cost (``transfer_image_ms``) once it has TRANSFER_MIN_OBS observations.
TRANSFER_BUILD_S = 0.3
TRANSFER_MIN_OBS = 2
# Stop reasons of runs that trained until the budget's planned stop (the overhead fit uses only them).
_FILLED = frozenset({"planned", "deadline"})


def _ref(record: Mapping[str, Any], frozen: int) -> float | None:
    table = record.get("train_step_ms") or {}
    if not table:
        return None
    v = table.get(nearest_setting(table, frozen))
    return float(v) if v else None


def _margin_s(budget_s: float) -> float:
    return margin_s(budget_s)


def _huber_weights(resid: np.ndarray, min_scale: float) -> np.ndarray:
    """Huber IRLS weights for residuals, with a robust scale (MAD, at least ``min_scale``: runs
    that agree exactly still leave a far-off one an outlier)."""
    if resid.size < 3:
        return np.ones_like(resid)
    scale = max(1.4826 * float(np.median(np.abs(resid - np.median(resid)))), min_scale)
    a = np.abs(resid) / (_HUBER * scale)
    return np.where(a <= 1.0, 1.0, 1.0 / np.maximum(a, 1e-12))


def _shrunk_mean(values: np.ndarray, weights: np.ndarray, prior_runs: float) -> float:
    return float((weights * values).sum() / (weights.sum() + prior_runs))


def _fit_step(obs: list[dict[str, Any]], prior_runs: float) -> dict[str, Any]:
    """The step-time terms from observations with ``y`` (log ratio), ``x`` (slope covariates),
    ``w`` (recency weight), ``member``, ``frozen``."""
    y = np.array([o["y"] for o in obs])
    x = np.array([[o["x"][k] for k in PRIOR_SLOPES] for o in obs])
    w = np.array([o["w"] for o in obs])
    prior = np.array(list(PRIOR_SLOPES.values()))
    cells = [(o["member"], o["frozen"]) for o in obs]
    members = [o["member"] for o in obs]
    robust = np.ones_like(y)
    for _ in range(3):  # IRLS: fit, reweight the outliers, refit
        ww = w * robust
        # Slopes from within-cell variation (each cell's weighted mean removed), ridge toward the prior.
        yc, xc = y.copy(), x.copy()
        for cell in set(members):
            idx = np.array([c == cell for c in members])
            sw = ww[idx].sum()
            yc[idx] -= (ww[idx] * y[idx]).sum() / sw
            xc[idx] -= (ww[idx, None] * x[idx]).sum(axis=0) / sw
        pen = prior_runs * np.maximum((xc ** 2).mean(axis=0), 1e-3)
        a = (xc * ww[:, None]).T @ xc + np.diag(pen)
        b = (xc * ww[:, None]).T @ yc + pen * prior
        slopes = np.linalg.solve(a, b)
        # The hierarchy on what the slopes leave: global, member, member x frozen, each shrunk.
        z = y - x @ slopes
        g = _shrunk_mean(z, ww, prior_runs)
        r_m = {m: _shrunk_mean(z[idx] - g, ww[idx], prior_runs)
               for m in set(members) for idx in [np.array([mm == m for mm in members])]}
        zm = z - g - np.array([r_m[m] for m in members])
        r_mf = {c: _shrunk_mean(zm[idx], ww[idx], prior_runs)
                for c in set(cells) for idx in [np.array([cc == c for cc in cells])]}
        resid = zm - np.array([r_mf[c] for c in cells])
        robust = _huber_weights(resid, 0.05)  # 5% in step time
    # Each (member, frozen) setting's own size slope, on top of the global one, from what its runs at several
    # sides leave: a step's side-independent part (the optimiser over the trained stages, the per-step
    # bookkeeping) weighs differently by setting. At 128 px MobileNetV2 and EfficientNet-Lite0 with every
    # stage frozen stepped 1.25x what the global slope said, with two stages frozen 0.8x
    # (bench/results/time-model-20261207/). Shrunk toward zero by SIZE_PRIOR_RUNS runs' worth of a typical
    # spread of sides; read at the profiled side, so the cell's offset moves with it.
    xs = x[:, list(PRIOR_SLOPES).index("size")]
    ww = w * robust
    spread = float(np.mean(xs ** 2)) or 1.0
    size_dev: dict[tuple[str, int], float] = {}
    for c in set(cells):
        idx = np.array([cc == c for cc in cells])
        sw = ww[idx].sum()
        if sw <= 0:
            continue
        xm = float((ww[idx] * xs[idx]).sum() / sw)
        xc_ = xs[idx] - xm
        d = float((ww[idx] * xc_ * resid[idx]).sum() / ((ww[idx] * xc_ ** 2).sum() + SIZE_PRIOR_RUNS * spread))
        if d:
            size_dev[c] = d
            r_mf[c] = r_mf[c] - d * xm  # the cell's offset at the profiled side (size 0), not at its runs' mean
    return {"g": g, "r_m": r_m, "r_mf": r_mf, "slopes": dict(zip(PRIOR_SLOPES, slopes.tolist())), "size_dev": size_dev,
            "resid_sd": float(1.4826 * np.median(np.abs(resid - np.median(resid)))) if len(resid) > 2 else None}


def _fit_here(obs: list[dict[str, Any]], fit: Mapping[str, Any]) -> dict[str, Any]:
    """This machine's own offsets on top of ``fit`` (see the module's doc): ``h``, the shrunk robust
    mean of what its runs' log step times leave, and ``h_m``, each member's from what ``h`` leaves.

    ``h`` is shrunk toward what this machine's runs at other thread counts leave (``h0``, itself shrunk
    toward zero), not toward zero: a second thread helps members unequally, so those runs set no
    member's offset, but how far the speed probe misjudges this machine is the machine's. On an Intel
    Xeon VM whose 1,251 shipped runs all ran on one thread, the README's first command trains on two:
    with ``h0`` left out it planned 49.1 epochs and ran 32.9 (bench/results/experience-all-20261207/)."""
    def resid(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        slopes = fit["slopes"]
        z = np.array([o["y"] - sum(slopes[k] * o["x"][k] for k in PRIOR_SLOPES) - fit["g"]
                      - fit["r_m"].get(o["member"], 0.0) - fit["r_mf"].get((o["member"], o["frozen"]), 0.0)
                      - fit["size_dev"].get((o["member"], o["frozen"]), 0.0) * o["x"]["size"]
                      for o in rows])
        members = np.array([o["member"] for o in rows])
        # Outliers are judged within their member: a member whose every run here departs from the rest is
        # what the member's offset is for, not an outlier (judged against all runs, a calibration's
        # MobileNetV2 measurements 1.4x off the others were weighed down to almost nothing).
        centred = z - np.array([np.median(z[members == m]) for m in members])
        return z, members, np.array([o["w"] for o in rows]) * _huber_weights(centred, 0.05)

    other = [o for o in obs if o.get("same_machine") and not o.get("here")]
    h0 = 0.0
    if other:
        z, _, w = resid(other)
        h0 = _shrunk_mean(z, w, HERE_PRIOR_RUNS)
    mine = [o for o in obs if o.get("here")]
    if not mine:
        return {"runs": 0, "calibration": 0, "h": h0, "h_m": {}, "other_threads": len(other)}
    z, members, w = resid(mine)
    h = h0 + _shrunk_mean(z - h0, w, HERE_PRIOR_RUNS)
    h_m = {m: _shrunk_mean(z[members == m] - h, w[members == m], HERE_PRIOR_RUNS) for m in sorted(set(members))}
    calibration = sum(1 for o in mine if o.get("calibration"))
    return {"runs": len(mine) - calibration, "calibration": calibration, "h": h, "h_m": h_m,
            "other_threads": len(other)}


def _fit_overhead(obs: list[dict[str, Any]], prior_runs: float) -> dict[str, Any]:
    """Set-up (global and per member), evaluation factor, step excess and steps lost at the start and the
    stop from runs that filled their budget: ``unused = setup[member] + eval_factor * eval_work + step_excess *
    window + stop_steps * step``."""
    # In fractions of the budget: an error of a second matters as much at 8 s as ten at 80 s.
    budget = np.array([o["budget_s"] for o in obs])
    y = np.array([o["unused"] for o in obs]) / budget
    ev = np.array([o["eval_work"] for o in obs]) / budget
    win = np.array([o["window"] for o in obs]) / budget
    step = np.array([o["step_s"] for o in obs]) / budget
    w = np.array([o["w"] for o in obs])
    members = [o["member"] for o in obs]
    names = sorted(set(members))
    # Columns: setup (global), eval factor, step excess, steps lost, then one per member (setup residual).
    k = 4
    x = np.column_stack([1.0 / budget, ev, win, step]
                        + [np.array([m == n for m in members], float) / budget for n in names])
    prior = np.array([PRIOR_OVERHEAD["setup_s"], PRIOR_OVERHEAD["eval_factor"], PRIOR_OVERHEAD["step_excess"],
                      PRIOR_OVERHEAD["stop_steps"]] + [0.0] * len(names))
    scale = (x ** 2).mean(axis=0)  # a pseudo-run of typical size per term
    pen = prior_runs * np.maximum(np.concatenate([scale[:k], np.full(len(names), scale[0])]), 1e-9)
    robust = np.ones_like(y)
    for _ in range(4):
        ww = w * robust
        a = (x * ww[:, None]).T @ x + np.diag(pen)
        b = (x * ww[:, None]).T @ y + pen * prior
        coef = np.linalg.solve(a, b)
        robust = _huber_weights(y - x @ coef, 0.01)  # 1% of the budget
    setup = {n: max(0.0, float(coef[0] + coef[k + i])) for i, n in enumerate(names)}
    return {"setup_s": max(0.0, float(coef[0])), "setup_by_member": setup,
            "eval_factor": float(np.clip(coef[1], 0.0, 10.0)), "step_excess": float(np.clip(coef[2], 0.0, 1.0)),
            "stop_steps": float(np.clip(coef[3], 0.0, 10.0))}


def calibrate_records(records: Sequence[Mapping[str, Any]], timings: Iterable[Mapping[str, Any]], *,
                      cpu: str | None, threads: int, prior_runs: float = PRIOR_RUNS,
                      speed_probe: float | None = None, gpu: str | None = None,
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Zoo records with ``train_step_ms`` corrected, and the overhead terms (:data:`TIME_TERMS`)
    learned, from the measured ``timings`` (rows of :meth:`nasoa.meta.store.ExperienceStore.timings`,
    most recent first), and a summary. ``speed_probe``: this machine's speed probe in ms (see the
    module's doc); None: runs from this ``cpu`` model only, unscaled. ``gpu``: this machine's GPU
    (None: none); a probe measures the CPU, so a run on a machine with another GPU (or a GPU where
    this one has none) is never rescaled by it."""
    by_name = {str(r["name"]): r for r in records}
    timings = _calibration_timings(records) + list(timings)
    probed = sum(1 for t in timings if _probe(t) is not None and t.get("gpu") == gpu) if speed_probe else 0
    by_probe = bool(speed_probe) and probed >= MIN_PROBED_RUNS
    step_obs: list[dict[str, Any]] = []
    over_obs: list[dict[str, Any]] = []
    transfer_obs: dict[str, list[float]] = defaultdict(list)  # member -> measured ms per image scored
    for t in timings:
        speed = 1.0  # this machine's step time per step time where the run ran
        theirs = _probe(t) if by_probe and t.get("gpu") == gpu else None
        if theirs is not None:
            speed = min(_PROBE_CLIP, max(1.0 / _PROBE_CLIP, float(speed_probe) / theirs))
        elif cpu and t.get("cpu") and t.get("cpu") != cpu:
            continue
        unprobed = 1.0 if by_probe and theirs is None else 0.0
        # This machine's, at this thread count: what a second thread is worth differs by member (on
        # the Intel VM MobileNetV2 stepped 1.44x faster on two threads, etnas_z1 1.26x slower), which
        # the fit's one thread slope cannot tell.
        same_machine = (theirs is not None and bool(cpu) and t.get("cpu") == cpu
                        and 1.0 / HERE_PROBE_BAND <= speed <= HERE_PROBE_BAND)
        here = same_machine and int(t.get("threads") or threads or 1) == int(threads)
        if same_machine:
            # Not rescaled: within the band two readings differ more by the probe's own noise (15.6 to
            # 19.1 ms within an hour on the Intel VM, a neighbour on the other core) than by any change
            # of the machine, and unscaled runs here also correct a plan whose probe misread this time.
            speed = 1.0
        if _contended(t):
            continue
        for member, took in ((t.get("transfer") or {}).get("s") or {}).items():
            images = (t.get("transfer") or {}).get("images")
            if images and took is not None and float(took) > TRANSFER_BUILD_S:
                transfer_obs[str(member)].append((float(took) - TRANSFER_BUILD_S) / float(images) * 1000.0 * speed)
        rec = by_name.get(str(t.get("model_name")))
        measured = t.get("step_ms")
        if rec is None or not measured or not math.isfinite(float(measured)) or float(measured) <= 0:
            continue
        own = float(measured)  # the run's own step time, for its overheads
        measured = own * speed
        frozen = int(t.get("frozen_stages") or 0)
        ref = _ref(rec, frozen)
        if not ref:
            continue
        # Every run alike (weighting recent runs more did worse on held-out tasks); a calibration
        # measurement counts as CALIBRATION_WEIGHT runs.
        w = CALIBRATION_WEIGHT if t.get("calibration") else 1.0
        ref_batch = float(rec.get("train_step_batch") or 64)
        batch = float(t.get("batch_size") or ref_batch)
        ref_size = float(rec.get("input_size") or 0) or None
        size = float(t.get("input_size") or ref_size or 1.0)
        run_threads = int(t.get("threads") or threads or 1)
        name = str(rec["name"])
        step_obs.append({
            "y": max(-_CLIP, min(_CLIP, math.log(float(measured) / ref))), "w": w, "member": name, "frozen": frozen,
            "here": here, "same_machine": same_machine, "calibration": bool(t.get("calibration")),
            "x": {"batch": math.log(batch / ref_batch), "size": math.log(size / ref_size) if ref_size else 0.0,
                  "threads": math.log(run_threads / max(int(threads), 1)), "ref": math.log(ref / _REF_MS),
                  "unprobed": unprobed,
                  # the batch's slope moves with the side: the larger the images, the less a step's fixed part weighs
                  "batch_size": math.log(batch / ref_batch) * (math.log(size / ref_size) if ref_size else 0.0),
                  # above the profiled side the pixels' compute dominates: a steeper slope there
                  "size_above": max(0.0, math.log(size / ref_size)) if ref_size else 0.0},
        })
        # The budget the time model planned over: an adapt run had already spent ``choice_s`` of
        # it loading and scoring (counting that as the member's set-up made every later plan think
        # a member needs seconds to start: three concurrent 15 s adapts were refused), and kept
        # ``reserve_s`` free after training for recording and saving, which adapt plans without.
        budget, steps, n_val = t.get("budget_s"), t.get("steps"), t.get("num_val")
        budget = float(budget) - float(t.get("choice_s") or 0.0) - float(t.get("reserve_s") or 0.0) if budget else None
        if (budget and budget > 0 and steps and n_val is not None and t.get("stop_reason") in _FILLED
                and run_threads == int(threads)):
            window = float(steps) * own / 1000.0
            # ``eval_work`` is in the run's own steps; scaled to a forward pass once the tables are calibrated.
            over_obs.append({"unused": budget - _margin_s(budget) - window, "w": w, "member": name,
                             "budget_s": budget, "frozen": frozen, "step_s": own / 1000.0,
                             "eval_work": float(n_val) * own / batch / 1000.0, "window": window})
    n_cal = sum(1 for o in step_obs if o["calibration"])
    summary: dict[str, Any] = {"runs": len(step_obs) - n_cal, "calibration": n_cal,
                               "overhead_runs": len(over_obs), "threads": int(threads),
                               "cpu": cpu, "prior_runs": prior_runs, "speed_probe_ms": speed_probe,
                               "probed_runs": probed, "speed_by": "probe" if by_probe else "cpu"}
    if not step_obs:
        summary["global_factor"] = 1.0
        return [_with_transfer(dict(r), transfer_obs) for r in records], summary
    fit = _fit_step(step_obs, prior_runs)
    here = _fit_here(step_obs, fit)
    factors = {str(r["name"]): _factors(r, fit, here) for r in records if r.get("train_step_ms")}
    for o in over_obs:
        o["eval_work"] *= forward_ratio(_scaled(by_name[o["member"]], factors[o["member"]], digits=None), o["frozen"])
    over = _fit_overhead(over_obs, prior_runs) if over_obs else None
    out = []
    for r in records:
        rec = dict(r)
        name = str(rec["name"])
        table = {str(k): float(v) for k, v in (rec.get("train_step_ms") or {}).items()}
        if table:
            f = factors[name]
            rec["train_step_ms"] = _scaled(rec, f)
            rec["profiled_step_ms"] = table
            rec["train_step_batch_exponent"] = round(fit["slopes"]["batch"], 4)
            rec["train_step_size_exponent"] = round(fit["slopes"]["size"], 4)
            rec["train_step_batch_size_exponent"] = round(fit["slopes"]["batch_size"], 4)
            rec["train_step_size_above_exponent"] = round(fit["slopes"]["size_above"], 4)
            size_dev = fit["size_dev"]
            rec["train_step_size_exponents"] = {k: round(fit["slopes"]["size"] + size_dev.get((name, int(k)), 0.0), 4)
                                                for k in table}
            if over is not None:
                rec["train_setup_s"] = round(over["setup_by_member"].get(name, over["setup_s"]), 4)
                rec["train_eval_factor"] = round(over["eval_factor"], 4)
                rec["train_step_excess"] = round(over["step_excess"], 4)
                rec["train_stop_steps"] = round(over["stop_steps"], 4)
        out.append(_with_transfer(rec, transfer_obs))
    runs_per_member: dict[str, int] = defaultdict(int)
    for o in step_obs:
        runs_per_member[o["member"]] += 1
    summary.update({"global_factor": round(math.exp(fit["g"]), 4),
                    "factors": {n: {k: round(v, 4) for k, v in f.items()} for n, f in factors.items()},
                    "slopes": {k: round(v, 4) for k, v in fit["slopes"].items()},
                    "step_resid_sd": fit["resid_sd"], "overhead": over, "runs_per_member": dict(runs_per_member),
                    "here": {"runs": here["runs"], "calibration": here["calibration"],
                             "other_threads": here.get("other_threads", 0),
                             "factor": round(math.exp(here["h"]), 4),
                             "by_member": {m: round(math.exp(v), 4) for m, v in here["h_m"].items()}}})
    return out, summary


def _factors(record: Mapping[str, Any], fit: Mapping[str, Any], here: Mapping[str, Any]) -> dict[str, float]:
    """The calibration's factor on each frozen setting of a member's profiled step-time table."""
    name = str(record["name"])
    table = {str(k): float(v) for k, v in (record.get("train_step_ms") or {}).items()}
    h = here["h"] + here["h_m"].get(name, 0.0)
    return {k: math.exp(fit["g"] + fit["r_m"].get(name, 0.0) + fit["r_mf"].get((name, int(k)), 0.0) + h
                        + fit["slopes"]["ref"] * math.log(table[k] / _REF_MS))
            for k in table}


def _scaled(record: Mapping[str, Any], factors: Mapping[str, float], digits: int | None = 3) -> dict[str, float]:
    """A member's step-time table calibrated by ``factors`` (rounded to ``digits``; None: not rounded)."""
    return {str(k): round(float(v) * factors[str(k)], digits) if digits is not None else float(v) * factors[str(k)]
            for k, v in (record.get("train_step_ms") or {}).items()}


def _calibration_timings(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``nasoa zoo calibrate``'s measurements on the records, as timings of runs that only stepped
    (no budget: the overheads are not learned from them)."""
    out = []
    for r in records:
        for m in r.get("calibration") or ():
            if isinstance(m, Mapping) and m.get("step_ms"):
                out.append({**m, "model_name": r["name"], "calibration": True, "budget_s": None, "steps": None,
                            "stop_reason": None, "num_val": None, "choice_s": 0.0, "reserve_s": 0.0,
                            "transfer": None})
    return out


def _contended(t: Mapping[str, Any]) -> bool:
    """Whether the run shared its cores with other work (see :data:`MIN_CPU_SHARE`)."""
    if t.get("cpu_wait") is not None:
        return float(t["cpu_wait"]) > MAX_CPU_WAIT
    return t.get("cpu_share") is not None and float(t["cpu_share"]) < MIN_CPU_SHARE


def _probe(t: Mapping[str, Any]) -> float | None:
    v = t.get("speed_probe_ms")
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def _with_transfer(rec: dict[str, Any], obs: Mapping[str, list[float]]) -> dict[str, Any]:
    """The record with its measured per-image scoring cost (the median of its runs' set-ups), when
    runs measured it often enough."""
    values = obs.get(str(rec.get("name"))) or []
    if len(values) >= TRANSFER_MIN_OBS:
        rec["transfer_image_ms"] = round(float(np.median(values)), 4)
    return rec


def calibrated_zoo(store: Any, zoo: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``(records, calibration)``: the member records ``zoo`` (its caller's) with their step
    times and overheads calibrated by what the store's recent runs measured on this machine (a
    bounded query), unless $NASOA_MACHINE_FACTOR overrides the speed. What the time model reads; it
    needs no predictor, so a caller can check a budget before loading one."""
    records = [dict(r) for r in zoo]
    if store is None or os.environ.get(ENV_MACHINE_FACTOR):
        return records, {}
    # This machine's speed, measured once per process (0.1-0.2 s): it rescales past runs, and the run
    # this plan is for records it.
    return calibrate_records(records, store.timings(), cpu=cpu_model(), threads=training_threads(),
                             speed_probe=speed_probe_ms(), gpu=machine().get("gpu"))
