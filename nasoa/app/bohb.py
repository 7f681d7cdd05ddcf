"""The BOHB baseline: optuna's TPE sampler with Hyperband pruning over nasoa's regime space,
splitting one wall-clock budget across trials.

A trial is a zoo member and a regime (the same grid the meta-model scores). It trains in rungs of
growing budget, ``r, eta*r, eta^2*r`` seconds (each rung continues the previous one from its
checkpoint), reports its validation accuracy after every rung, and Hyperband stops the unpromising
ones. The whole search is a deadline: no rung starts that cannot end before it. The result keeps
the best-so-far accuracy against the compute spent, so "how much compute does BOHB need to reach
the accuracy nasoa reached in one shot" is read off one run.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nasoa.core.errors import NasoaError
from nasoa.core.train import BudgetTooSmallError, Regime, finetune
from nasoa.app.workflow import prepare_model_and_task


@dataclass
class BohbResult:
    best_accuracy: float
    best_trial: int | None
    best_config: dict[str, Any] | None
    best_run_dir: str | None
    trials: list[dict[str, Any]] = field(default_factory=list)
    curve: list[tuple[float, float]] = field(default_factory=list)  # (compute s, best accuracy any rung reached)
    compute_s: float = 0.0

    def compute_to_reach(self, accuracy: float) -> float | None:
        """Seconds of compute after which the best-so-far accuracy first reached ``accuracy``."""
        return next((t for t, a in self.curve if a >= accuracy), None)


def bohb_search(
    mm,
    task,
    budget_s: float,
    *,
    seed: int = 0,
    eta: int = 3,
    min_rung_s: float = 4.0,
    device: str = "cpu",
    start_time: float | None = None,
    keep_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> BohbResult:
    """Search members x regimes for ``task`` with ``budget_s`` seconds of wall clock in total."""
    import optuna  # lazy: optuna (~0.7 s); only the BOHB baseline searches

    start = start_time if start_time is not None else time.time()
    deadline = start + budget_s
    frame = mm.candidates(task, max(budget_s / eta**2, min_rung_s))  # feasible members and regimes at rung 0
    members = sorted(set(frame["model_name"].to_list()))
    grid = mm.grid
    records = {r["name"]: r for r in mm.records}
    # Rung budgets: the largest is a third of the budget (Hyperband needs several trials to compare).
    r_max = max(min_rung_s, budget_s / 3)
    rungs = [r_max / eta**k for k in (2, 1, 0)]
    rungs = [max(min_rung_s, r) for r in rungs]
    work = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="nasoa-bohb-"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", study_name=f"nasoa-bohb-{seed}",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=len(rungs), reduction_factor=eta),
    )
    result = BohbResult(0.0, None, None, None)
    spent = 0.0
    reached = 0.0  # best accuracy any rung has reached so far (the compute-to-reach curve)
    emit = log or (lambda s: None)
    while True:
        if deadline - time.time() < rungs[0] + 1.0:
            break
        trial = study.ask()
        name = trial.suggest_categorical("model_name", members)
        n_stages = len(records[name].get("train_step_ms") or {"0": 0}) - 1
        frozen_choices = [k for k in (grid.frozen_stages or range(n_stages + 1)) if k <= n_stages]
        cfg = {
            "model_name": name,
            "lr": trial.suggest_categorical("lr", list(grid.lrs)),
            "frozen_stages": trial.suggest_categorical(f"frozen_stages_{n_stages}", frozen_choices),
            "schedule": trial.suggest_categorical("schedule", list(grid.schedules)),
            "optimizer": trial.suggest_categorical("optimizer", list(grid.optimizers)),
            "batch_size": trial.suggest_categorical("batch_size", list(grid.batch_sizes)),
        }
        regime = Regime.from_dict({**grid.fixed(), **cfg, "epochs": None})
        run_dir = work / f"trial{trial.number:03d}"
        rec = records[name]
        acc = float("nan")
        state = optuna.trial.TrialState.COMPLETE
        trained = 0.0
        for k, rung in enumerate(rungs):
            step_budget = rung - trained
            if time.time() + step_budget > deadline:
                state = optuna.trial.TrialState.PRUNED if k else optuna.trial.TrialState.FAIL
                break
            t0 = time.time()
            try:
                prep = prepare_model_and_task(task.name, name, seed=seed + trial.number, pretrained=True,
                                              size=int(rec.get("input_size") or 32), device=device, task=task)
                res = finetune(prep.model, prep.task, regime, step_budget, seed=seed + trial.number, start_time=t0,
                               device=prep.device, mean=prep.mean, std=prep.std, hflip=prep.hflip, run_dir=run_dir,
                               resume=k > 0, progress=False,
                               manifest_extra={"model": prep.describe(), "data": task.name, "command": "adapt --strategy bohb"})
            except BudgetTooSmallError:
                state = optuna.trial.TrialState.FAIL
                break
            used = time.time() - t0
            spent += used
            trained += used
            acc = 0.0 if res.diverged else res.val_accuracy
            reached = max(reached, acc)
            result.curve.append((round(spent, 3), reached))
            trial.report(acc, k + 1)
            if res.diverged or trial.should_prune():
                state = optuna.trial.TrialState.PRUNED
                break
        # The model a trial leaves behind is its last rung's: only that accuracy can be the result's.
        if trained > 0 and acc == acc and acc > result.best_accuracy:
            result.best_accuracy, result.best_trial, result.best_config = acc, trial.number, dict(cfg)
            result.best_run_dir = str(run_dir)
        if state == optuna.trial.TrialState.COMPLETE:
            study.tell(trial, acc)
        else:
            study.tell(trial, state=state)
        result.trials.append({"number": trial.number, **cfg, "accuracy": acc, "trained_s": round(trained, 2),
                              "state": state.name.lower()})
        emit(f"trial {trial.number}: {name} lr {cfg['lr']} frozen {cfg['frozen_stages']} -> {acc:.4f} "
             f"({state.name.lower()}, {trained:.0f}s); best {result.best_accuracy:.4f}")
    result.compute_s = round(spent, 2)
    if not result.trials or result.best_trial is None:
        raise NasoaError(f"BOHB could not finish a single trial in {budget_s:g}s; give a larger --budget")
    if keep_dir is None:
        # Keep only the best trial's run dir (the caller may copy its weights).
        for d in work.iterdir():
            if str(d) != result.best_run_dir:
                shutil.rmtree(d, ignore_errors=True)
    return result
