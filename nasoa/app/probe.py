"""Probing: on a task unlike the experience, try the top few candidates before committing.

The one-shot pick is as good as the experience near the task. When a task lies far from every
task the meta-model learned from (:meth:`nasoa.meta.MetaModel.novelty` above 1), ``nasoa adapt``
spends a measured part of the budget on successive halving: each of its top candidates of
different members trains for an equal slice (a short run with its own full schedule), and the
winner's weights go on training for everything that is left of the one budget. The winner has the
best validation accuracy, but a lead of one image is a tie and a tie goes to the better-ranked
candidate (:func:`pick_winner`): slices of a few seconds on a validation split of a few dozen
images often differ by one image, and the ranking is the better guide then. The probes are real
runs: they are recorded in the experience like any other, so the next task of this kind is picked
in one shot. ``--dry-run`` shows the one-shot ranking and
whether the task would be probed; ``--probe never`` keeps the pure one-shot pick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nasoa.core.errors import NasoaError

__all__ = ["ProbePlan", "plan_probe", "probe_reason", "pick_winner", "PROBE_MODES", "NOVELTY_THRESHOLD"]

PROBE_MODES = ("auto", "never", "always")
# Probe when the task is farther from the experience than this (1: farther than nine experience
# tasks in ten lie from their nearest neighbour).
NOVELTY_THRESHOLD = 1.0
PROBE_FRACTION = 0.3  # of the budget left after set-up, shared by the probes
# Two probes may take up to this share when their slices need it (a 30 s budget: two 4-5 s slices).
MAX_PROBE_FRACTION = 0.4
MAX_PROBES = 3
# A shorter probe says more about set-up noise than about the regime. 4 s lets a 30 s budget probe
# two members (the held-out bench's worst loss was a one-shot pick at 30 s that a 4 s probe refutes:
# bench/results/adapt-heldout-20261202h/); a probe within one image of the best keeps the
# better-ranked candidate (pick_winner).
MIN_PROBE_S = 4.0
# A probe must fit this many times the budget its regime needs for one epoch (about two epochs).
PROBE_EPOCH_ROOM = 2.0


def pick_winner(val_accuracies: list[float], n_val: int) -> int:
    """Which probe goes on: the index into ``val_accuracies`` (the probes in ranked order, best
    predicted first). The best validation accuracy wins; a lead of at most one image of ``n_val``
    is a tie, and a tie goes to the better-ranked probe. The probed candidates are the first-ranked
    regimes of different members, as a rule within the predictor's uncertainty of one another, so
    the probe decides; only where it cannot tell them apart does the ranking."""
    if not val_accuracies:
        raise ValueError("no probes to pick from")
    n = max(int(n_val), 1)
    acc = [float(a) if a is not None and math.isfinite(float(a)) else 0.0 for a in val_accuracies]  # diverged: 0
    top = max(acc)
    return next(i for i, a in enumerate(acc) if top - a <= 1.0 / n + 1e-9)  # 1e-9: float sums of 1/n


@dataclass(frozen=True)
class ProbePlan:
    """The candidates to probe (recommendation rows, best predicted first) and each one's slice."""

    candidates: list[dict[str, Any]]
    probe_s: float
    reason: str
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"models": [c["model_name"] for c in self.candidates], "probe_s": round(self.probe_s, 2),
                "reason": self.reason, "skipped": self.skipped}


def probe_reason(novelty: dict[str, Any] | None, mode: str = "auto", threshold: float = NOVELTY_THRESHOLD,
                 ) -> str | None:
    """Why the pick would probe (``mode`` always, or under ``auto`` a task whose novelty score is
    above ``threshold``), or None for the one-shot pick: what :func:`plan_probe` decides first, and
    what adapt asks before it ranks the candidates a probe would need."""
    if mode not in PROBE_MODES:
        raise NasoaError(f"unknown --probe {mode!r}; choose one of {', '.join(PROBE_MODES)}")
    if mode == "never":
        return None
    if mode == "always":
        return "--probe always"
    score = (novelty or {}).get("score")
    if score is None or score <= threshold:
        return None
    return f"novelty {score:.2f} > {threshold:g}: the task is unlike the experience"


def plan_probe(top: list[dict[str, Any]], novelty: dict[str, Any] | None, budget_left_s: float, *,
               mode: str = "auto", k: int = MAX_PROBES, fraction: float = PROBE_FRACTION,
               max_fraction: float = MAX_PROBE_FRACTION, threshold: float = NOVELTY_THRESHOLD) -> ProbePlan | None:
    """Whether and what to probe. ``top``: recommendation rows (best first) with ``model_name``,
    ``min_budget_s`` (the budget the regime needs for one epoch). Each slice holds about two epochs
    of every probed regime and at least :data:`MIN_PROBE_S`; the probes share ``fraction`` of
    ``budget_left_s`` (two of them up to ``max_fraction``). Returns None for the one-shot pick:
    ``mode`` never, a familiar task under ``auto``, or no two candidates, the first-ranked one
    among them, that fit."""
    reason = probe_reason(novelty, mode, threshold)
    if reason is None or k < 2:
        return None
    chosen: list[dict[str, Any]] = []
    for row in top:  # the best regime of each member, in predicted order
        if all(c["model_name"] != row["model_name"] for c in chosen):
            chosen.append(row)
        if len(chosen) == k:
            break
    skipped: list[str] = []

    def room(c: dict[str, Any]) -> float:  # the slice a candidate needs for about two epochs
        return PROBE_EPOCH_ROOM * float(c.get("min_budget_s") or 0.0)

    while len(chosen) >= 2:
        # Two probes are the least that compares anything: they may take up to max_fraction of what
        # is left (at 30 s, two 4-5 s slices); three or more share `fraction`.
        cap = (fraction if len(chosen) > 2 else max(fraction, max_fraction)) * budget_left_s
        need = max(MIN_PROBE_S, max(room(c) for c in chosen))
        probe_s = max(fraction * budget_left_s / len(chosen), need)
        if len(chosen) * probe_s <= cap + 1e-9:
            return ProbePlan(chosen, probe_s, reason, skipped)
        # Too little room: drop the slowest of the others when it is what binds, else the
        # last-ranked; the first-ranked candidate (the one-shot pick) is what probing checks.
        slowest = max(chosen[1:], key=room)
        if room(slowest) > max(MIN_PROBE_S, room(chosen[0])):
            skipped.append(slowest["model_name"])
            chosen = [c for c in chosen if c is not slowest]
        else:
            chosen = chosen[:-1]
    return None
