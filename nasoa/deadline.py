"""The deadline's safety margin, in one place: every planner (the trainer, adapt's post-training
reserve, the probes, BOHB's trials and the meta-model's time model) keeps this much of a budget
free, so that a run ends before its deadline even when a step or the evaluation runs slow."""

from __future__ import annotations

__all__ = ["MARGIN_S", "MARGIN_FRAC", "margin_s"]

MARGIN_S = 0.4  # seconds, whatever the budget
MARGIN_FRAC = 0.015  # and this fraction of the budget


def margin_s(budget_s: float) -> float:
    """Seconds of a ``budget_s`` budget left unplanned."""
    return MARGIN_S + MARGIN_FRAC * float(budget_s)
