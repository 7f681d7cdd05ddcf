"""Deadlines, in one place: the safety margin every planner keeps (the trainer, adapt's
post-training reserve, the probes, BOHB's trials and the meta-model's time model), and the
trainer's step planner.

:class:`StepPlanner` holds no clock and no torch: the trainer tells it when each step ended and how
long it took, and asks it whether to start another. So it is tested with simulated clocks
(contention that starts, stops, or comes in bursts) as well as with real runs.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

__all__ = ["MARGIN_S", "MARGIN_FRAC", "margin_s", "StepPlanner"]

MARGIN_S = 0.4  # seconds, whatever the budget
MARGIN_FRAC = 0.015  # and this fraction of the budget


def margin_s(budget_s: float) -> float:
    """Seconds of a ``budget_s`` budget left unplanned."""
    return MARGIN_S + MARGIN_FRAC * float(budget_s)


@dataclass
class StepPlanner:
    """Plans the steps of a training loop that must finish, evaluation and saving included, by
    ``start + budget_s`` (times on the ``time.time()`` scale), keeping ``margin`` seconds free.

    * Training runs until the *planned stop* (:meth:`train_until`): the deadline less the margin
      and the reserve for the final evaluation and saving. A step starts only if, at the recent
      step time (a high quantile of the last ``window`` steps), it ends before the planned stop.
      The stop is decided by time, not by a step count fixed early, so a run whose steps slow
      down (other processes on its cores) or speed up still ends at the planned stop.
    * The evaluation reserve follows the machine: once one evaluation batch has been timed warm
      (:meth:`set_eval_warm`), it is that batch's share of a training step times the *current*
      step time, so it grows and shrinks with contention instead of being fixed by a cold
      measurement taken before training.
    * ``planned`` (the steps the learning-rate schedule spans) is re-planned at every step from the
      median of the recent step times; :meth:`progress` never goes back.
    * ``max_steps`` (an epochs cap) holds from the first step, calibrated or not.
    """

    start: float
    budget_s: float
    margin: float | None = None  # default: margin_s(budget_s)
    save_s: float = 0.0
    eval_batches: int = 0
    max_steps: int | None = None
    calib_steps: int = 4
    window: int = 20
    stop_quantile: float = 0.8
    step_times: list[float] = field(default_factory=list)
    planned: int | None = None
    predicted_total_s: float = float("nan")
    eval_cold_s: float | None = None  # one evaluation batch, timed before training (includes warm-up)
    eval_ratio: float | None = None  # one warm evaluation batch / one training step at the same time
    # The time model's step time for this regime on this machine (seconds), when the caller has one.
    prior_step_s: float | None = None
    _progress: float = 0.0

    def __post_init__(self) -> None:
        if self.margin is None:
            self.margin = margin_s(self.budget_s)

    @property
    def deadline(self) -> float:
        return self.start + self.budget_s

    # -- measurements ---------------------------------------------------------------------------

    def set_eval_cold(self, batch_s: float) -> None:
        self.eval_cold_s = max(0.0, float(batch_s))

    def set_eval_warm(self, batch_s: float) -> None:
        """One evaluation batch timed after calibration; kept relative to the step time then."""
        st = self.step_s()
        if st and st > 0:
            self.eval_ratio = max(0.0, float(batch_s)) / st

    def observe(self, step: int, dt: float, now: float) -> None:
        """A training step (now the ``step``-th) took ``dt`` seconds and ended at ``now``."""
        self.step_times.append(max(0.0, float(dt)))
        if len(self.step_times) < self.calib_steps:
            return
        st = self.step_s()
        planned = step + max(0, int((self.train_until() - now) / st)) if st > 0 else step
        if self.max_steps is not None:
            planned = min(planned, self.max_steps)
        planned = max(planned, step)
        if self.planned is None:
            self.predicted_total_s = (now - self.start) + (planned - step) * st + self.eval_s() + self.save_s
        self.planned = planned

    # -- estimates ------------------------------------------------------------------------------

    def _recent(self) -> list[float]:
        # The first step pays one-time set-up (allocation, kernel selection): left out once others exist.
        times = self.step_times[1:] if len(self.step_times) > 1 else self.step_times
        return times[-self.window:]

    def step_s(self) -> float | None:
        """The recent median step time; None before any step."""
        recent = self._recent()
        return statistics.median(recent) if recent else None

    def step_hi_s(self) -> float:
        """A high quantile of the recent step times: what the next step is allowed to take."""
        recent = sorted(self._recent())
        if not recent:
            return 0.0
        if len(self.step_times) == 1 and self.prior_step_s and self.prior_step_s > 0:
            # Only the first step is timed, and it paid the one-time set-up (allocation, kernel
            # selection): several times a warm step, more under contention (2.4 s against ~0.1 s
            # measured with two adapts at once), so it alone would stop training after one step.
            # The time model's estimate, with room for contention, bounds it until a warm step is seen.
            return min(recent[0], 2.0 * self.prior_step_s)
        return recent[min(len(recent) - 1, math.ceil(self.stop_quantile * len(recent)) - 1)]

    def eval_s(self) -> float:
        """Predicted seconds of the final evaluation."""
        if self.eval_batches <= 0:
            return 0.0
        st = self.step_s()
        if self.eval_ratio is not None and st:
            return 1.15 * self.eval_ratio * st * self.eval_batches + 0.05
        if self.eval_cold_s is not None:
            return 1.3 * self.eval_cold_s * self.eval_batches + 0.05
        return 0.05

    def reserve(self) -> float:
        """Seconds kept after training: evaluation, saving, the margin."""
        return self.eval_s() + self.save_s + float(self.margin)

    def train_until(self) -> float:
        """The planned stop of training (``time.time()`` scale)."""
        return self.deadline - self.reserve()

    # -- decisions ------------------------------------------------------------------------------

    def stop(self, now: float, step: int) -> str | None:
        """Why training must stop before starting the next step (``epochs``, ``planned``: the next
        step would end after the planned stop, ``deadline``: the planned stop has already passed),
        or None to go on."""
        if self.max_steps is not None and step >= self.max_steps:
            return self._stopped("epochs", now, step)
        until = self.train_until()
        if now >= until:
            return self._stopped("deadline", now, step)
        if now + self.step_hi_s() > until:
            return self._stopped("planned", now, step)
        return None

    def _stopped(self, why: str, now: float, step: int) -> str:
        """A stop before the plan was calibrated (a slow machine or a short budget: fewer steps than
        ``calib_steps``) plans what it did: the prediction is the time from here, not nan."""
        if self.planned is None:
            self.planned = step
            self.predicted_total_s = (now - self.start) + self.eval_s() + self.save_s
        return why

    def progress(self, step: int) -> float:
        """Fraction of the planned steps done, for the learning-rate schedule; never decreases."""
        if self.planned:
            self._progress = max(self._progress, min(1.0, step / self.planned))
        return self._progress
