"""The time-budgeted fine-tuning engine: ``finetune(model, task, regime, budget_s) -> TrainResult``.

``regime`` (what to do and what was measured), ``loop`` (the deadline-keeping loop; its planner is
the torch-free :mod:`nasoa.core.deadline`), ``checkpoint`` (the run directory's files, resume) and
``progress`` (the progress bar). Importing this package imports no torch.
"""

from nasoa.core.errors import BudgetTooSmallError
from nasoa.core.train.checkpoint import save_weights, write_manifest
from nasoa.core.train.loop import balanced_accuracy, evaluate, evaluate_by_class, finetune
from nasoa.core.train.regime import OPTIMIZERS, SCHEDULES, Regime, TrainResult

__all__ = ["Regime", "TrainResult", "BudgetTooSmallError", "finetune", "evaluate", "evaluate_by_class",
           "balanced_accuracy", "SCHEDULES", "OPTIMIZERS", "save_weights", "write_manifest"]
