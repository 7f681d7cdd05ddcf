"""One-shot online adaptation (``nasoa adapt``): pick a zoo member and a regime for a task and a
budget, fine-tune within the budget, and learn from the outcome.

Strategies (``--strategy``), all run through the same trainer and the same deadline:

* ``nasoa`` (default): the :class:`nasoa.meta.MetaModel` scores every feasible candidate regime
  (members x learning rates x frozen stages x schedules x optimizers, epochs fitted to the budget)
  and the best predicted one runs; ``explore=True`` picks optimistically (prediction + uncertainty).
* ``practice``: what a practitioner runs instead of nasoa, the bar nasoa must clear: ImageNet
  MobileNetV2 (``mobilenetv2_imagenet``), full fine-tuning, AdamW lr 1e-3 weight decay 0.05, cosine
  over the budget, ImageNet mean/std, random flips, batch 64, at the task's own image size (at
  least 32 px). It uses neither the meta-model nor LogME and never reads the store's runs; with
  learning on, its run is recorded like any other.
* ``default``: one fixed model and a standard regime that fills the budget: the most accurate
  ET-NAS zoo member on its source, full fine-tuning, SGD lr 0.01, cosine, batch 64.
* ``random``: a uniformly random feasible candidate.
* ``logme``: the member with the highest LogME transferability on the task, default regime.
* ``bohb``: optuna's TPE + Hyperband over the same space, the budget split across trials
  (:mod:`nasoa.app.bohb`); the best trial's model is the result.

The experience store (``--store``, ``$NASOA_STORE``, or the user data dir) receives every run;
the shipped experience table seeds an empty store, so a fresh install starts warm.

The parts: :mod:`nasoa.app.choose` (each strategy's pick), :mod:`nasoa.app.setup_budget` (the
budget check and the set-up's cost model), :mod:`nasoa.app.experience` (the store, seeded on first
use) and :mod:`nasoa.app.record` (what a finished run leaves: its store record, figure, manifest).
This module runs a pick end to end.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from nasoa.app.bohb import bohb_search
from nasoa.app.choose import (DEFAULT_REGIME, PRACTICE_MIN_SIZE, PRACTICE_MODEL, PRACTICE_REGIME, STRATEGIES, Choice,
                              check_strategy, choose, practice_choice)
from nasoa.app.experience import open_store, shipped_experience, shipped_model
from nasoa.app.probe import PROBE_MODES, pick_winner, plan_probe, probe_reason
from nasoa.app.record import (POST_RESERVE_S, add_to_run_manifest, plot_curve, post_reserve_s, record_run,
                               remember_post_s, run_record)
from nasoa.app.setup_budget import (TRANSFER_MEMBER_S, TRANSFER_MIN_IMAGES, TRANSFER_SHARE, check_budget,
                                    impute_unscored, member_min_budgets, named_budget, precheck_budget,
                                    setup_features, transfer_cost_s)
from nasoa.app.transfer import penultimate_features
from nasoa.app.workflow import prepare_model_and_task, resolve_device, run_dir_for
from nasoa.core.data import load_task
from nasoa.core.deadline import margin_s
from nasoa.core.errors import BudgetTooSmallError, NasoaError
from nasoa.core.profile import speed_probe_ms, speed_probe_reading
from nasoa.core.runtime import CpuMeter, atomic_write_json, check_min_budget, deadline_guard, training_threads
from nasoa.core.train import Regime, finetune
from nasoa.meta.candidates import candidate_side
from nasoa.meta.features import TRANSFER_IMAGES, cached_task_features, save_task_features
from nasoa.meta.metamodel import MetaModel
from nasoa.zoo import profiled_records, read_side
from nasoa.zoo.registry import record as zoo_record

# What this module offered before its parts moved out; importers keep working.
__all__ = ["adapt", "Choice", "choose", "practice_choice", "STRATEGIES", "DEFAULT_REGIME", "PRACTICE_MODEL",
           "PRACTICE_REGIME", "PRACTICE_MIN_SIZE", "PROBED_STRATEGY", "POST_RESERVE_S", "TRANSFER_SHARE",
           "TRANSFER_MEMBER_S", "TRANSFER_MIN_IMAGES", "shipped_experience", "shipped_model", "open_store",
           "member_min_budgets", "check_budget", "precheck_budget", "transfer_cost_s", "setup_features",
           "run_record", "record_run", "plot_curve"]

# The strategy recorded for a run that continued a probe winner's weights (see nasoa.app.probe); the
# meta-model does not learn from such runs (nasoa.meta.features.CONTINUED_STRATEGIES).
PROBED_STRATEGY = "nasoa-probed"


def _expected_step_s(choice: Choice) -> float | None:
    """The time model's step time (s) of the chosen regime, from its candidate row, when it has one."""
    for row in choice.top:
        if row.get("model_name") == choice.model_name and row.get("step_ms") and all(
                row.get(k) == choice.regime.get(k) for k in ("lr", "frozen_stages", "batch_size") if k in row):
            return float(row["step_ms"]) / 1000.0
    return None


def adapt(
    data: str,
    budget_s: float,
    *,
    strategy: str = "nasoa",
    explore: bool = False,
    seed: int = 0,
    store: str | Path | None = None,
    out: str | Path | None = None,
    device: str = "auto",
    learn: bool = True,
    dry_run: bool = False,
    k: int = 5,
    strict: bool = False,
    start_time: float | None = None,
    warn: Callable[[str], None] | None = None,
    progress: bool | None = None,
    probe: str = "auto",
    allow_outside: bool = False,
) -> dict[str, Any]:
    """Run one task end to end; returns the run's summary (what ``nasoa adapt --json`` prints: model,
    regime, strategy, predicted and val accuracy, planned and run epochs, timings), which the run
    dir's ``manifest.json`` keeps under ``adapt`` beside the task, regime, result and versions.

    ``probe`` (strategy nasoa): ``auto`` tries the top candidates of a few members in a part of
    the budget when the task is unlike the experience (:mod:`nasoa.app.probe`), ``never`` keeps the
    one-shot pick, ``always`` probes every task. ``allow_outside``: read CSV rows whose files lie
    outside the CSV's folder.

    The store changes only once the run goes ahead: the task's features (meta-features, LogME) are
    computed before the choice but cached in the store only after it, so a refusal (a budget too
    small, a bad option) leaves the store as it was; ``learn=False`` leaves it untouched."""
    start = start_time if start_time is not None else time.time()
    check_strategy(strategy)
    if probe not in PROBE_MODES:
        raise NasoaError(f"unknown --probe {probe!r}; choose one of {', '.join(PROBE_MODES)}")
    if not dry_run:
        check_min_budget(budget_s)
    with deadline_guard(start + budget_s * 0.8, lambda: (
            f"the budget of {budget_s:g}s is too small: start-up and loading {data} took {time.time() - start:.0f}s "
            f"of it; give a larger --budget or a smaller task")) as guard:
        task = load_task(data, seed=seed, strict=strict, allow_outside=allow_outside, max_side=read_side())
        for w in task.info.get("warnings", []):
            if warn is not None:
                warn(w)
        guard.check()
        practice = strategy == "practice"
        # practice consults neither the meta-model nor the store; it opens the store only to record its run.
        st = open_store(store) if not practice or (learn and not dry_run) else None
        mm = None
        unsaved: dict = {}  # the task's features, cached in the store once the run goes ahead (below)
        if not practice:
            guard.check()
            # This call's own machine speed, which the plan is rescaled by: a long-lived process (the
            # bench, a stream, a Ray worker) would otherwise plan with a reading up to 10 minutes old,
            # and one taken while a neighbour started up read 15-26 ms against 14.7 in the experience
            # (bench/results/adapt-heldout-20261202h/: 78% of plans within 25%).
            speed_probe_ms(max_age_s=0.0)
            training_threads(refresh=True)  # and the cores free for it now, which it plans and trains with
            precheck_budget(task, st, budget_s, start, unsaved)  # before the predictor is loaded
            guard.check()
            mm = MetaModel.load(st, zoo=profiled_records(), seed=seed)
            mm.unsaved_task_features = unsaved
            if not mm.records:
                raise NasoaError("the zoo has no pretrained members; run `nasoa zoo pretrain` first")
    loaded = time.time() - start
    task_features = None
    setup: dict[str, Any] = {}
    # The set-up (features, choice) is bounded by the budget too: the cost model below sizes it, and
    # this guard stops it (a one-line refusal) should the machine be slower still than measured.
    with deadline_guard(start + budget_s - margin_s(budget_s), lambda: (
            f"the budget of {budget_s:g}s is too small: loading and scoring this task took all of it "
            f"({time.time() - start:.0f}s) on this machine now; give a larger --budget")) as guard:
        guard.check()
        features = measured = None
        if mm is not None:
            # Transferability (a forward pass of members over a sample of images) only where it drives the
            # choice; the sample is fixed, so --seed does not move the features.
            extract = None
            if strategy in ("nasoa", "logme"):
                extract = lambda t, name, n: penultimate_features(t, name, n, 0)  # noqa: E731
                mm.feature_extractor = lambda t, name: penultimate_features(t, name, TRANSFER_IMAGES, 0)
            features, setup = setup_features(mm, task, budget_s, start, extract)
            measured = features  # what the run records; the choice may also see imputed scores
            if strategy == "nasoa" and setup["skipped"]:
                features, setup["imputed"] = impute_unscored(st, features, setup["skipped"])
            guard.check()
        elif st is not None:  # practice, learning: the meta-features its store record needs (no LogME)
            task_features = cached_task_features(task, store=st, unsaved=unsaved)[1]
        spent = time.time() - start
        # What the trainer will keep free after training (plotting, recording, saving): the plan is
        # made over the rest, as the time model learned its overheads without it (record.run_record).
        post_reserve = post_reserve_s(st)
        try:
            choice = choose(strategy, mm, task, budget_s - spent - post_reserve, seed=seed, explore=explore, k=k,
                            features=features)
        except BudgetTooSmallError as e:  # name the smallest whole budget, not what was left after loading
            need = named_budget(spent + post_reserve, e.minimum_s)
            raise BudgetTooSmallError(
                f"a budget of {budget_s:g}s is too small for every candidate regime on this task: loading and scoring "
                f"took {spent:.1f}s and the quickest regime needs about {e.minimum_s + post_reserve:.0f}s more; pass "
                f"--budget {need}s or more", need) from None
        plan = None
        if strategy == "nasoa":
            choice.novelty = mm.novelty(features)
            if probe_reason(choice.novelty, probe) is not None:  # else no second ranking: 0.6 s of a short budget
                ranked = mm.recommend(features, budget_s - spent - post_reserve, k=200).to_dicts()
                plan = plan_probe(ranked, choice.novelty, budget_s - (time.time() - start) - post_reserve, mode=probe)
    if learn:  # the choice stands: from here the command runs (or, with --dry-run, reports it)
        if mm is not None:
            mm.save_task_features()
        else:
            save_task_features(st, unsaved)
    manifest: dict[str, Any] = {
        "kind": "nasoa.adapt", "data": data, "budget_s": budget_s, "strategy": strategy, "explore": explore,
        "seed": seed, "store": str(st.path) if st is not None else None, "model": choice.model_name,
        "regime": choice.regime, "input_size": choice.input_size,
        "predicted_accuracy": choice.predicted_accuracy, "uncertainty": choice.uncertainty,
        "planned_epochs": choice.planned_epochs, "time_model": time_model_summary(mm),
        "n_candidates": choice.n_candidates, "recommend_ms": round(choice.recommend_ms, 2), "top": choice.top,
        "setup_s": {"start_and_load": round(loaded, 3), "meta_features": round(spent - loaded, 3)},
        "transfer": setup or None,
        "novelty": choice.novelty, "probe": plan.to_dict() if plan is not None else None,
    }
    if dry_run:
        manifest["elapsed_s"] = round(time.time() - start, 3)
        return manifest

    if strategy == "bohb":
        return _adapt_bohb(mm, task, data, budget_s, start, seed, device, out, learn, manifest)
    if mm is not None:
        rec = next(r for r in mm.records if r["name"] == choice.model_name)
    else:  # practice: the member's record straight from the zoo (the meta-model is not loaded)
        rec = zoo_record(choice.model_name)
    size = choice.input_size or int(rec.get("input_size") or 32)
    if plan is not None:  # try the candidates in a slice each; the winner goes on with its weights
        choice, rec, prep = _run_probes(mm, task, data, plan, seed, device, learn, manifest, measured)
        meter = CpuMeter()  # the CPU and core waits of the run, for the time model (run_record)
    else:
        meter = CpuMeter()
        prep = prepare_model_and_task(data, choice.model_name, seed=seed, pretrained=True, size=size, device=device,
                                      task=task)
    regime = Regime.from_dict({**choice.regime, "epochs": None})
    run_dir = Path(out) if out is not None else run_dir_for("adapt", choice.model_name)
    result = finetune(
        prep.model, prep.task, regime, budget_s, seed=seed, start_time=start, device=prep.device, mean=prep.mean,
        std=prep.std, hflip=prep.hflip, run_dir=run_dir, progress=progress,
        margin_s=margin_s(budget_s) + post_reserve, expected_step_s=_expected_step_s(choice),
        manifest_extra={"model": prep.describe(), "data": data, "command": "adapt", "choice": asdict(choice)},
    )
    trained = time.time()
    choice_s = meter.t0 - start  # what the time model's overheads are learned without (run_record)
    cpu_share, cpu_wait = meter.read(training_threads(), end=trained)
    plot_curve(result.loss_curve, run_dir / "curve.png",
               f"{choice.model_name} on {task.name[:40]}: val acc {result.val_accuracy:.3f}")
    manifest.update(prep.summary(result, regime, start, strategy=strategy,
                                 predicted_accuracy=choice.predicted_accuracy, n_candidates=choice.n_candidates,
                                 recommend_ms=round(choice.recommend_ms, 2), top=choice.top,
                                 store=str(st.path) if st is not None else None))
    if learn and mm is not None:
        # A run that continued a probe's weights is not a one-shot run of its regime: recorded apart.
        manifest["run_id"] = record_run(mm, task, prep, regime, result, choice.model_name,
                                        PROBED_STRATEGY if plan is not None else strategy, seed, run_dir, measured,
                                        choice_s, cpu_share, setup, cpu_wait, post_reserve)
    elif learn:  # practice: recorded like every run, but no predictor learns here (it never loaded one)
        manifest["run_id"] = st.append(run_record(task, task_features, rec, prep, regime, result, strategy, seed,
                                                  run_dir, choice_s, cpu_share, cpu_wait=cpu_wait,
                                                  reserve_s=post_reserve))
    manifest["post_s"] = {"reserved": round(post_reserve, 3), "took": round(time.time() - trained, 3)}
    manifest["elapsed_s"] = round(time.time() - start, 3)
    add_to_run_manifest(run_dir, manifest)
    if st is not None:
        remember_post_s(st, time.time() - trained)
    return manifest


def _run_probes(mm, task, data: str, plan, seed: int, device: str, learn: bool, manifest: dict[str, Any],
                features: dict[str, Any] | None = None):
    """Successive halving over the plan's candidates: each trains from its pretrained weights for
    ``plan.probe_s`` (its own full schedule), is recorded as a run of that budget, and the winner
    (:func:`nasoa.app.probe.pick_winner`: the best validation accuracy, the better-ranked of those
    within one image of it) is returned with its trained model, to continue."""
    trials = []
    for row in plan.candidates:
        rec = next(r for r in mm.records if r["name"] == row["model_name"])
        size = candidate_side(row) or int(rec.get("input_size") or 32)
        prep = prepare_model_and_task(data, row["model_name"], seed=seed, pretrained=True, size=size, device=device,
                                      task=task)
        regime = Regime.from_dict({**mm.regime(row), "epochs": None})
        t0 = time.time()
        result = finetune(prep.model, prep.task, regime, plan.probe_s, seed=seed, start_time=t0, device=prep.device,
                          mean=prep.mean, std=prep.std, hflip=prep.hflip, progress=False,
                          margin_s=margin_s(plan.probe_s))
        if learn:  # a real run of this regime at this budget: experience like any other
            record_run(mm, task, prep, regime, result, row["model_name"], "probe", seed, None,  # no run dir: not kept
                       features)
        trials.append((result.val_accuracy, row, rec, prep))
        manifest.setdefault("probe_trials", []).append({
            "model": row["model_name"], "regime": regime.to_dict(), "predicted_accuracy": row["predicted_accuracy"],
            "val_accuracy": result.val_accuracy, "elapsed_s": round(time.time() - t0, 3), "epochs": result.epochs})
    best = pick_winner([t[0] for t in trials], trials[0][3].task.num_val)
    _, row, rec, prep = trials[best]
    manifest["probe"]["winner"] = row["model_name"]
    manifest["planned_epochs"] = None  # planned for a one-shot run of the whole budget: not this one
    choice = Choice("nasoa", row["model_name"], mm.regime(row), row["predicted_accuracy"], row.get("uncertainty"),
                    row.get("planned_epochs"), manifest["n_candidates"], manifest["recommend_ms"], manifest["top"],
                    input_size=prep.size)
    choice.novelty = manifest["novelty"]
    return choice, rec, prep


def _adapt_bohb(mm, task, data: str, budget_s: float, start: float, seed: int, device: str, out, learn: bool,
                manifest: dict[str, Any]) -> dict[str, Any]:
    """The ``bohb`` strategy: search within the budget, keep the best trial's model as the run's."""
    run_dir = Path(out) if out is not None else run_dir_for("adapt", "bohb")
    post = margin_s(budget_s) + post_reserve_s(mm.store)
    res = bohb_search(mm, task, budget_s - (time.time() - start) - post, seed=seed, device=resolve_device(device),
                      start_time=time.time(), keep_dir=run_dir / "trials")
    best = Path(res.best_run_dir)
    for f in ("model.safetensors", "classes.json"):
        shutil.copyfile(best / f, run_dir / f)
    trial_manifest = json.loads((best / "manifest.json").read_text())
    plot_curve([(i, 1 - a) for i, (_, a) in enumerate(res.curve)], run_dir / "curve.png",
               f"BOHB best-so-far error, {len(res.trials)} trials")
    manifest.update({
        "val_accuracy": res.best_accuracy, "model": res.best_config["model_name"],
        "regime": trial_manifest["regime"], "predicted_accuracy": None, "run_dir": str(run_dir),
        "bohb": {"trials": res.trials, "curve": res.curve, "compute_s": res.compute_s},
    })
    manifest["elapsed_s"] = round(time.time() - start, 3)
    atomic_write_json(run_dir / "manifest.json", {**trial_manifest, "adapt": manifest})
    _ = learn  # BOHB's trials are not one-shot choices: they are not added to the experience store
    return manifest


def time_model_summary(mm) -> dict[str, Any] | None:
    """How the plan's step times were calibrated: this machine's speed probe, whether past runs were
    rescaled by their probes or matched by the CPU's name, how many entered, the overall factor on
    the profiled table (None: no meta-model, or ``$NASOA_MACHINE_FACTOR`` set)."""
    cal = mm.calibration if mm is not None else None
    if not cal:
        return None
    out = {k: cal.get(k) for k in ("speed_probe_ms", "speed_by", "runs", "calibration", "probed_runs", "global_factor",
                                 "here")}
    reading = speed_probe_reading()  # the probe is the median of recent readings; this call's own beside it
    if reading and "raw" in reading:
        out.update(speed_probe_raw_ms=reading["raw"], speed_probe_readings=reading.get("readings"))
    return out
