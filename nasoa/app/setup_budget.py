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

import math
import time
from typing import Any, Callable

from nasoa.core.errors import BudgetTooSmallError, NasoaError
from nasoa.meta.candidates import Grid, enumerate_candidates
from nasoa.meta.descriptors import MemberTable, machine_factor
from nasoa.meta.features import TRANSFER_IMAGES, TRANSFER_SCORES, TimeModel, cached_task_features, transfer_scores
from nasoa.meta.timing import calibrated_zoo
from nasoa.zoo import profiled_records

TRANSFER_SHARE = 0.25
TRANSFER_MEMBER_S = 0.3
TRANSFER_MIN_IMAGES = 60


def member_min_budgets(members, time_model, features: dict[str, Any], grid=None) -> dict[str, float]:
    """Each member's smallest budget: what its quickest candidate regime needs on this task by the
    time model (set-up, ``min_epochs`` of training, evaluation and the margin). ``members``: a
    :class:`nasoa.meta.descriptors.MemberTable`."""
    import polars as pl  # lazy: polars; the practice strategy never builds a candidate frame

    frame = enumerate_candidates(members, features, 1.0, grid or Grid(), time_model, feasible_only=False)
    agg = frame.group_by("model_name").agg(pl.col("_min_budget_s").min())
    return {str(m): float(v) for m, v in agg.iter_rows() if v is not None}


def check_budget(need: dict[str, float], budget_s: float, spent: float) -> float:
    """The quickest member's need (seconds) when it fits what is left of the budget; else a
    one-line :class:`BudgetTooSmallError` naming the smallest whole budget that would do."""
    if not need:
        raise NasoaError("the zoo has no members with measured step times; run `nasoa zoo profile` first")
    quickest = min(need.values())
    if quickest > budget_s - spent:
        raise BudgetTooSmallError(
            f"a budget of {budget_s:g}s is too small for every candidate regime on this task: loading and scoring "
            f"took {spent:.1f}s and the quickest regime needs about {quickest:.0f}s more; pass --budget "
            f"{math.ceil(spent + quickest)}s or more", spent + quickest)
    return quickest


def precheck_budget(task, st, budget_s: float, start: float, unsaved: dict) -> float:
    """The budget check before any model or predictor is loaded: the task's meta-features (cached in
    ``unsaved`` until the run goes ahead) and the time model over the zoo's calibrated step times.
    Returns the quickest member's need; a hopeless budget is refused here, in well under a second
    after loading, however slow the machine."""
    feats = cached_task_features(task, store=st, unsaved=unsaved)[1]
    records, _ = calibrated_zoo(st, profiled_records())
    need = member_min_budgets(MemberTable(records), TimeModel(machine_factor=machine_factor()), feats)
    return check_budget(need, budget_s, time.time() - start)


def transfer_cost_s(mm, member: str, images: int) -> float:
    """Predicted seconds to score one member's transferability on ``images`` images: build and load
    it, then a forward pass (its step time at full fine-tuning x the time model's eval factor), at
    this machine's factor."""
    d = mm.members.by_name(member) or {}
    table = d.get("_train_step_ms") or {}
    full = float(table.get("0", min(table.values()))) if table else 100.0
    per_image_s = full / float(d.get("_train_step_batch") or 64) / 1000.0 * mm.time_model.eval_factor
    return mm.time_model.machine_factor * (TRANSFER_MEMBER_S + images * per_image_s)


def setup_features(mm, task, budget_s: float, start: float, extract: Callable[[Any, str, int], Any] | None,
                   images: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's features within the budget, and what they cost: ``(features, info)``.

    Meta-features first (well under a second); then the cost model: a budget in which no member's
    quickest regime fits is refused at once (:class:`BudgetTooSmallError`), before any member is
    run; then transferability (``extract(task, member, n) -> (features, labels)``, None: none) for
    the members that can run at all, within :data:`TRANSFER_SHARE` of the time left and never
    eating into what the quickest regime needs: fewer images when the budget is small, then fewer
    members (cheapest first; each member's cost re-estimated from what the previous ones took).
    Scores over the full sample go to the store's cache with the meta-features (deferred: written
    once the run goes ahead); scores over a reduced sample serve this choice only."""
    images = TRANSFER_IMAGES if images is None else int(images)
    feats = mm.task_features(task, members=())
    spent = time.time() - start
    left = budget_s - spent
    need = member_min_budgets(mm.members, mm.time_model, feats, mm.grid)
    quickest = check_budget(need, budget_s, spent)
    info: dict[str, Any] = {"images": 0, "scored": [], "cached": [], "skipped": [], "allowance_s": 0.0}
    if extract is None:
        return feats, info
    fits = sorted(m for m, s in need.items() if s <= left)
    info["cached"] = [m for m in fits if all(m in (feats.get(k) or {}) for k in TRANSFER_SCORES)]
    todo = [m for m in fits if m not in info["cached"]]
    allowance = max(0.0, min(TRANSFER_SHARE * left, left - quickest))
    full = min(images, int(task.num_train))
    n = full
    while n > TRANSFER_MIN_IMAGES and sum(transfer_cost_s(mm, m, n) for m in todo) > allowance:
        n = max(TRANSFER_MIN_IMAGES, int(n * 0.7))
    n = min(n, full)
    todo.sort(key=lambda m: transfer_cost_s(mm, m, n))
    info.update(images=n, allowance_s=round(allowance, 3))
    deadline = time.time() + allowance
    ratio = 1.0  # measured / predicted cost of the members scored so far
    for m in todo:
        base = transfer_cost_s(mm, m, n)
        if time.time() + ratio * base > deadline:
            info["skipped"].append(m)
            continue
        t = time.time()
        if n == full and images == TRANSFER_IMAGES:  # the cached definition: through the store's cache
            feats = mm.task_features(task, members=[*info["cached"], *info["scored"], m])
        else:
            scores = transfer_scores(lambda name: extract(task, name, n), [m])
            feats = {**feats, **{k: {**(feats.get(k) or {}), **scores[k]} for k in TRANSFER_SCORES}}
        ratio = max(0.25, (time.time() - t) / base)
        info["scored"].append(m)
    return feats, info
