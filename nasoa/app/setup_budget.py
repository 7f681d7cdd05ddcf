"""The set-up's budget for ``nasoa adapt``: before anything trains, a budget no member's quickest
regime fits is refused (one line naming the smallest budget that would do), and the task's
features are measured within what the budget allows.

The cost model: transferability (one forward pass of a member over a sample of the task's images,
then LogME and k-NN) gets at most :data:`TRANSFER_SHARE` of the time left once the meta-features
are in, and never what the quickest regime needs; each member costs :data:`TRANSFER_MEMBER_S` to
build and load plus its forward pass (the zoo's measured step time x the time model's eval factor,
at this machine's factor). Smaller budgets score fewer images (down to
:data:`TRANSFER_MIN_IMAGES`), then fewer members; scores from a reduced sample are used for the
choice but not cached.
"""

from __future__ import annotations

import importlib
import math
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

from nasoa.app.record import post_reserve_s
from nasoa.core.errors import BudgetTooSmallError, NasoaError
from nasoa.core.models import get_entry
from nasoa.meta.candidates import Grid, enumerate_candidates
from nasoa.meta.descriptors import MemberTable, machine_factor
from nasoa.meta.features import TRANSFER_IMAGES, TRANSFER_SCORES, TimeModel, cached_task_features, transfer_scores
from nasoa.meta.timing import TRANSFER_BUILD_S, calibrated_zoo
from nasoa.zoo import profiled_records

TRANSFER_SHARE = 0.25
TRANSFER_MEMBER_S = TRANSFER_BUILD_S
TRANSFER_MIN_IMAGES = 60


def member_min_budgets(members, time_model, features: dict[str, Any], grid=None) -> dict[str, float]:
    """Each member's smallest budget: what its quickest candidate regime needs on this task by the
    time model (set-up, ``min_epochs`` of training, evaluation and the margin). ``members``: a
    :class:`nasoa.meta.descriptors.MemberTable`."""
    import polars as pl  # lazy: polars; the practice strategy never builds a candidate frame

    frame = enumerate_candidates(members, features, 1.0, grid or Grid(), time_model, feasible_only=False)
    agg = frame.group_by("model_name").agg(pl.col("_min_budget_s").min())
    return {str(m): float(v) for m, v in agg.iter_rows() if v is not None}


def named_budget(spent: float, quickest: float) -> int:
    """The whole budget a too-small error names: what this run needed, with room for loading and
    scoring to take half as long again and a second besides (named without it, the budget was
    refused again on a re-run whose loading took 0.2 s longer)."""
    return math.ceil(quickest + 1.5 * spent) + 1


def check_budget(need: dict[str, float], budget_s: float, spent: float, reserve_s: float = 0.0) -> float:
    """The quickest member's need (seconds) when it fits what is left of the budget, less the
    ``reserve_s`` adapt keeps free after training (:func:`nasoa.app.record.post_reserve_s`: the
    choice plans without it, so this check must too); else a one-line
    :class:`BudgetTooSmallError` naming the smallest whole budget that would do."""
    if not need:
        raise NasoaError("the zoo has no members with measured step times; run `nasoa zoo profile` first")
    quickest = min(need.values())
    if quickest > budget_s - spent - reserve_s:
        raise BudgetTooSmallError(
            f"a budget of {budget_s:g}s is too small for every candidate regime on this task: loading and scoring "
            f"took {spent:.1f}s and the quickest regime needs about {quickest + reserve_s:.0f}s more; pass --budget "
            f"{named_budget(spent + reserve_s, quickest)}s or more", spent + reserve_s + quickest)
    return quickest


def precheck_budget(task, st, budget_s: float, start: float, unsaved: dict) -> float:
    """The budget check before any model or predictor is loaded: the task's meta-features (cached in
    ``unsaved`` until the run goes ahead) and the time model over the zoo's calibrated step times.
    Returns the quickest member's need; a hopeless budget is refused here, in well under a second
    after loading, however slow the machine."""
    feats = cached_task_features(task, store=st, unsaved=unsaved)[1]
    records, _ = calibrated_zoo(st, profiled_records())
    need = member_min_budgets(MemberTable(records), TimeModel(machine_factor=machine_factor()), feats)
    return check_budget(need, budget_s, time.time() - start, post_reserve_s(st))


def transfer_cost_s(mm, member: str, images: int) -> float:
    """Predicted seconds to score one member's transferability on ``images`` images: build and load
    it, then a forward pass per image, at this machine's factor. The forward pass costs what the
    member's earlier set-ups on this machine measured per image (``transfer_image_ms``, calibrated
    from the store with the step times), else what the time model prices evaluating an image at: its
    step with every stage frozen (a forward pass) x the eval factor."""
    d = mm.members.by_name(member) or {}
    if d.get("_transfer_image_ms"):
        per_image_s = float(d["_transfer_image_ms"]) / 1000.0
    else:
        table = d.get("_train_step_ms") or {}
        forward = float(table[str(max(int(k) for k in table))]) if table else 100.0
        per_image_s = forward / float(d.get("_train_step_batch") or 64) / 1000.0 * mm.time_model.eval_factor
    return mm.time_model.machine_factor * (TRANSFER_MEMBER_S + images * per_image_s)


def warm_up(members) -> float:
    """Import what building ``members`` needs (torchvision, timm: seconds each on a cold process)
    before their scoring is timed, so that a one-off import is neither charged to the first member
    built nor read as the machine's speed for the rest. Returns the seconds it took."""
    t = time.time()
    for m in members:
        for mod in get_entry(m).info.get("modules") or ():
            if mod not in sys.modules:
                importlib.import_module(str(mod))
    return time.time() - t


def setup_features(mm, task, budget_s: float, start: float, extract: Callable[[Any, str, int], Any] | None,
                   images: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's features within the budget, and what they cost: ``(features, info)``.

    Meta-features first (well under a second); then the cost model: a budget in which no member's
    quickest regime fits is refused at once (:class:`BudgetTooSmallError`), before any member is
    run; then transferability (``extract(task, member, n) -> (features, labels)``, None: none) for
    the members that can run at all: the libraries their builders import are loaded first
    (:func:`warm_up`, ``info["warmup_s"]``), then scoring gets :data:`TRANSFER_SHARE` of the time
    left, never eating into what the quickest regime needs: fewer images when the budget is small,
    then fewer members (cheapest first; each member's cost predicted by the cost model times the
    median measured/predicted ratio of the members scored so far, the first left out: it carries
    the process's one-off costs, a first forward pass and a first weights read, and read as the
    machine's speed it once left efficientnet_lite0 unscored at 30 s). ``info["costs_s"]``: each
    scored member's predicted and measured seconds.
    Scores over the full sample go to the store's cache with the meta-features (deferred: written
    once the run goes ahead); scores over a reduced sample serve this choice only."""
    images = TRANSFER_IMAGES if images is None else int(images)
    feats = mm.task_features(task, members=())
    spent = time.time() - start
    need = member_min_budgets(mm.members, mm.time_model, feats, mm.grid)
    reserve = post_reserve_s(mm.store)  # kept free after training: no part of the budget to score in
    quickest = check_budget(need, budget_s, spent, reserve)
    info: dict[str, Any] = {"images": 0, "scored": [], "cached": [], "skipped": [], "allowance_s": 0.0,
                            "warmup_s": 0.0, "costs_s": {}}
    if extract is None:
        return feats, info
    fits = sorted(m for m, s in need.items() if s <= budget_s - spent - reserve)
    info["cached"] = [m for m in fits if all(m in (feats.get(k) or {}) for k in TRANSFER_SCORES)]
    todo = [m for m in fits if m not in info["cached"]]
    info["warmup_s"] = round(warm_up(todo), 3)
    left = budget_s - (time.time() - start) - reserve
    allowance = max(0.0, min(TRANSFER_SHARE * left, left - quickest))
    full = min(images, int(task.num_train))
    n = full
    while n > TRANSFER_MIN_IMAGES and sum(transfer_cost_s(mm, m, n) for m in todo) > allowance:
        n = max(TRANSFER_MIN_IMAGES, int(n * 0.7))
    n = min(n, full)
    todo.sort(key=lambda m: transfer_cost_s(mm, m, n))
    info.update(images=n, allowance_s=round(allowance, 3))
    deadline = time.time() + allowance
    ratios: list[float] = []  # measured / predicted cost of each member scored so far
    for m in todo:
        base = transfer_cost_s(mm, m, n)
        ratio = max(0.25, statistics.median(ratios[1:])) if len(ratios) > 1 else 1.0
        if time.time() + ratio * base > deadline:
            info["skipped"].append(m)
            continue
        t = time.time()
        if n == full and images == TRANSFER_IMAGES:  # the cached definition: through the store's cache
            feats = mm.task_features(task, members=[*info["cached"], *info["scored"], m])
        else:
            scores = transfer_scores(lambda name: extract(task, name, n), [m])
            feats = {**feats, **{k: {**(feats.get(k) or {}), **scores[k]} for k in TRANSFER_SCORES}}
        took = time.time() - t
        ratios.append(took / base)
        info["scored"].append(m)
        info["costs_s"][m] = {"predicted": round(base, 3), "measured": round(took, 3)}
    return feats, info


IMPUTE_MIN_TASKS = 3
IMPUTE_NEIGHBOURS = 5


def impute_unscored(store, feats: dict[str, Any], members: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Transferability for ``members`` the set-up left unscored (their cost did not fit), from the
    experience: over the :data:`IMPUTE_NEIGHBOURS` past tasks whose scores of the members scored
    here are closest to this task's, the median of the member's offset from those members' median
    score (at least :data:`IMPUTE_MIN_TASKS` past tasks scored them all). Without it the predictor
    saw a member with no scores, which no experience run has: LightGBM then reads the score as 0,
    the worst transferability, and the member (efficientnet_lite0 on held-out tasks at 30 s, when a
    cold process mis-timed its scoring) was never picked. Leaving each shipped task out in turn, the
    ImageNet members' k-NN accuracy is imputed within 0.06 on average (the scored members' median:
    0.10-0.12 off). Returns ``(features for the choice, {member: imputed scores})``; the imputed
    values never reach the store (the run records what was measured)."""
    if not members or store is None:
        return feats, {}
    past = [f for _, _, f in store.task_list()]
    out = {k: dict(feats.get(k) or {}) for k in TRANSFER_SCORES}
    imputed: dict[str, dict[str, float]] = {}
    for m in members:
        for k in TRANSFER_SCORES:
            here = {r: float(v) for r, v in out[k].items() if r not in imputed and v is not None and math.isfinite(v)}
            if not here or m in here:
                continue
            refs = sorted(here)
            x = np.array([here[r] for r in refs])
            rows, ys = [], []
            for f in past:
                scores = f.get(k) or {}
                if scores.get(m) is not None and all(scores.get(r) is not None for r in refs):
                    rows.append([float(scores[r]) for r in refs])
                    ys.append(float(scores[m]) - float(np.median(rows[-1])))
            if len(ys) < IMPUTE_MIN_TASKS:
                continue
            dist = np.abs(np.asarray(rows) - x).mean(axis=1)
            near = np.argsort(dist, kind="stable")[:IMPUTE_NEIGHBOURS]
            v = float(np.median(x)) + float(np.median(np.asarray(ys)[near]))
            imputed.setdefault(m, {})[k] = round(min(1.0, max(0.0, v)) if k == "knn" else v, 6)
    for m, scores in imputed.items():
        for k, v in scores.items():
            out[k][m] = v
    return {**feats, **out}, imputed
