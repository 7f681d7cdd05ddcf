"""``nasoa meta``: collect experience, fit, evaluate and inspect the meta-learner."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import parse_duration

from . import _options as opt

app = typer.Typer(help="The meta-learning engine: collect experience, fit, evaluate, inspect.", no_args_is_help=True)

STORE = typer.Option(None, "--store", envvar="NASOA_STORE", dir_okay=False,
                     help="The experience store (SQLite). Default: $NASOA_STORE, else experience.sqlite in the "
                          "user data dir.")
MODEL_DIR = typer.Option(None, "--model-dir", file_okay=False,
                         help="Where the fitted model lives. Default: beside the store (experience.model/).")


def _store(path: Path | None, *, must_exist: bool = False):
    """The store at ``path`` (None: the default one, created on first use). ``must_exist``: a command
    that only reads or fits refuses a path with no store rather than leave an empty store file there."""
    from nasoa.meta.store import ExperienceStore

    return ExperienceStore(path, create=not must_exist or path is None)


def _budgets(text: str) -> tuple[float, ...]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if not parts:
        raise NasoaError(f"--budgets {text!r} lists no budget; write e.g. 10,30,60 or 30s,2m")
    return tuple(parse_duration(p) for p in parts)


def _numbers(text: str | None, what: str, cast=float) -> tuple | None:
    if text is None:
        return None
    try:
        values = tuple(cast(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) <= 0:
        raise NasoaError(f"{what} takes positive comma-separated numbers, e.g. 1,2,3; got {text!r}")
    return values


def _grid(input_sizes: str | None, lrs: str | None = None, base=None):
    """The regime grid ``base`` (None: the default grid) with ``--input-sizes`` and ``--lrs`` applied;
    None when neither is given and there is no ``base`` (the default grid). ``--input-sizes profiled``
    goes back to each member's profiled side."""
    if input_sizes is None and lrs is None:
        return base
    from nasoa.meta.candidates import Grid

    kw: dict = {}
    if input_sizes is not None:
        kw["input_sizes"] = None if input_sizes.strip() == "profiled" else _numbers(input_sizes, "--input-sizes", int)
        if kw["input_sizes"]:
            from nasoa.zoo import profiled_records

            # A side above every member's largest would be silently dropped from the grid.
            largest = max((max(int(r.get("input_size") or 0), int(r.get("max_input_size") or 0))
                           for r in profiled_records()), default=0)
            if max(kw["input_sizes"]) > largest:
                raise NasoaError(f"--input-sizes {input_sizes!r}: no zoo member runs above {largest} px (the largest "
                                 f"side a member was profiled or pretrained at); give sides up to {largest}")
    if lrs is not None:
        rates = tuple(sorted(set(_numbers(lrs, "--lrs"))))
        if max(rates) > 1:
            raise NasoaError(f"--lrs takes learning rates up to 1, e.g. 0.001,0.003,0.01; got {lrs!r}")
        kw["lrs"] = rates
    return replace(base or Grid(), **kw)


LRS = typer.Option(None, "--lrs",
                   help="Learning rates the regimes are drawn from, comma-separated, e.g. 0.001,0.003,0.01,0.03,0.1 "
                        "(default: 0.003,0.01,0.03,0.1; `meta fit` keeps those of the model it replaces). A rate "
                        "the experience never ran is a guess of the meta-model's: collect runs at it before "
                        "fitting with it.")
INPUT_SIZES = typer.Option(None, "--input-sizes",
                           help="Input sides a member may run at, up to the one it was profiled at, e.g. 32,48,64 "
                                "(ImageNet members then also run at 32 and 48 px; they may also run above it, up to "
                                "the 224 px they were pretrained at, and the side a task's images are held at: "
                                "32,48,64,96,128), or profiled: each member's "
                                "profiled side (the default; `meta fit` keeps the sides of the model it replaces).")


@app.command("collect")
def collect_cmd(
    store: Path = STORE,
    runs: int = typer.Option(..., "--runs", min=0, help="Total sampled runs for this seed (resumes where it stopped)."),
    seed: int = opt.SEED,
    budgets: str = typer.Option("10,30,60", "--budgets", help="Budgets to sample from, comma-separated: 10,30,60."),
    runs_per_task: int = typer.Option(6, "--runs-per-task", min=1, max=1000, help="Runs sampled on each task."),
    sources: list[str] = typer.Option(None, "--source", help="Built-in sources to cut tasks from (repeatable); "
                                                             "default: every installed one."),
    members: list[str] = typer.Option(None, "--member",
                                      help="Zoo members to fine-tune (repeatable), e.g. a member just added to the "
                                           "zoo; default: every pretrained one. Task features still score every "
                                           "member."),
    logme_images: int = typer.Option(300, "--logme-images", min=20, max=5000,
                                     help="Training images per task for the transferability features."),
    budget_weights: str = typer.Option(None, "--budget-weights",
                                       help="Sampling weights of --budgets, comma-separated (default: uniform)."),
    sizes: str = typer.Option(None, "--sizes", help="Task image sizes to sample, e.g. 16,32,64,96 (default: each "
                                                    "source's native size)."),
    input_sizes: str = INPUT_SIZES,
    lrs: str = LRS,
    per_class: str = typer.Option("10,20,50,100,200", "--per-class", help="Train images per class to sample from."),
    max_classes: int = typer.Option(10, "--max-classes", min=2, max=1000, help="Most classes in a sampled task."),
    min_val_per_class: int = typer.Option(0, "--min-val-per-class", min=0, max=1000,
                                          help="At least this many validation images per class where the source "
                                               "has room (less noisy accuracies)."),
    device: str = opt.DEVICE,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    executor: str = opt.EXECUTOR,
    address: str = opt.ADDRESS,
    cpus_per_run: float = opt.CPUS_PER_RUN,
    gpus_per_run: float = opt.GPUS_PER_RUN,
    retries: int = opt.RETRIES,
) -> None:
    """Fine-tune sampled regimes on sampled tasks with the real trainer and zoo; append each run.
    With --executor ray the runs go to Ray workers; this process alone writes the store."""
    from nasoa.app.collect import CollectConfig, collect
    from nasoa.app.collect_plan import checked_plan
    from nasoa.app.workflow import resolve_device

    opt.check_executor(executor, address, cpus_per_run, gpus_per_run, retries)
    distributed = executor.strip().lower() != "local"
    cfg = CollectConfig(runs=runs, seed=seed, budgets=_budgets(budgets), runs_per_task=runs_per_task,
                        sources=tuple(sources) if sources else None, logme_images=logme_images,
                        members=tuple(sorted(set(members))) if members else None,
                        device=device if distributed else resolve_device(device),
                        budget_weights=_numbers(budget_weights, "--budget-weights"),
                        sizes=_numbers(sizes, "--sizes", int), per_class=_numbers(per_class, "--per-class", int),
                        max_classes=max_classes, min_val_per_class=min_val_per_class, grid=_grid(input_sizes, lrs))
    checked_plan(cfg)  # a bad --member, --source, --runs or --budgets is refused before the store opens
    st = _store(store)
    before = st.counter(cfg.counter_key)
    todo = max(0, runs - before)
    ex = opt.executor_from(executor, address, cpus_per_run, gpus_per_run, retries)
    if distributed:  # the workers' device: the GPUs Ray gives each run, or their CPUs
        try:
            cfg = replace(cfg, device=_worker_device(device, ex.gpus_per_run))
        except BaseException:
            ex.close()
            raise
    if as_json:
        with ex:
            summary = collect(cfg, st, executor=ex)
        typer.echo(json.dumps(summary))
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    console.print(f"collecting into {st.path}: runs {before}..{runs - 1} of seed {seed} ({todo} to go)",
                  highlight=False)
    logging = not console.is_terminal  # a log file gets one line per event instead of a live bar
    with Progress(TextColumn("[bold]collect"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                  console=console, disable=logging) as bar:
        job = bar.add_task("collect", total=todo, last="")

        def on_event(e: dict) -> None:
            if e["event"] == "run":
                last = run_line(e["index"], e["record"])
                bar.update(job, advance=1, last=last)
            elif e["event"] == "skip":
                last = f"run {e['index']} skipped: {e['reason']}"
                bar.update(job, advance=1, last=last)
            elif e["event"] == "fail":
                last = f"run {e['index']} failed: {e['reason']}"
                bar.update(job, advance=1, last=last)
            else:
                last = f"task {e['index']}: {e['spec']}"
                bar.update(job, last=last)
            if logging:
                console.print(last, highlight=False, soft_wrap=True)

        with ex:
            summary = collect(cfg, st, on_event=on_event, executor=ex)
    failed = f", {summary['failed']} failed" if summary.get("failed") else ""
    typer.echo(f"appended {summary['appended']} runs ({summary['skipped']} skipped{failed}) in "
               f"{summary['elapsed_s']:.0f}s; the store holds {summary['runs_in_store']} runs")


def run_line(index: int, r) -> str:
    """A collected run's progress line: what ran (member, side, frozen stages, learning rate), its budget, and
    what it reached in how long."""
    side = f" {r.extra['input_size']}px" if (r.extra or {}).get("input_size") else ""
    return (f"run {index}: {r.model_name}{side} frozen {r.regime.get('frozen_stages', 0)} lr {r.regime.get('lr', 0):g} "
            f"{r.budget_s:g}s acc {r.val_accuracy:.3f} in {r.elapsed_s:.1f}s")


def _worker_device(device: str, gpus_per_run: float) -> str:
    """What a Ray run trains on: cuda when Ray gives it a GPU (``CUDA_VISIBLE_DEVICES`` names the
    one it got), else cpu."""
    d = (device or "auto").strip().lower()
    if d == "auto":
        return "cuda" if gpus_per_run > 0 else "cpu"
    if d.startswith("cuda") and gpus_per_run <= 0:
        raise NasoaError(f"--device {device} with --executor ray needs --gpus-per-run > 0 (the cluster's GPUs)")
    if d not in ("cpu", "cuda"):
        raise NasoaError(f"--device {device} with --executor ray: use auto, cpu or cuda (Ray picks the GPU)")
    return d


@app.command("refresh")
def refresh_cmd(
    store: Path = STORE,
    force: bool = typer.Option(False, "--force", help="Recompute every task's features, not only stale ones."),
) -> None:
    """Recompute the features of stored tasks made by an older version (k-NN scores, no dataset names)."""
    from nasoa.app.collect import refresh_features

    def on_event(e: dict) -> None:
        what = "refreshed" if e["event"] == "task" else f"skipped ({e['reason']})"
        typer.echo(f"{e['task_id']} {what}: {e['spec']}", err=True)

    r = refresh_features(_store(store, must_exist=True), force=force, on_event=on_event)
    typer.echo(f"refreshed {r['refreshed']} tasks ({r['runs_updated']} runs), skipped {r['skipped']}")


@app.command("fit")
def fit_cmd(
    store: Path = STORE,
    model_dir: Path = MODEL_DIR,
    backend: str = typer.Option("auto", "--backend", help="auto (regressor vs ranker by leave-tasks-out regret), "
                                                           "lgbm-regressor, lgbm-ranker, river, combo-residual, "
                                                           "combo-blend."),
    online: str = typer.Option("blend", "--online", help="How river joins LightGBM between refits: blend, residual "
                                                         "or none."),
    seed: int = opt.SEED,
    input_sizes: str = INPUT_SIZES,
    lrs: str = LRS,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Fit the meta-model on every run in the store and save it (pickle-free) beside the store."""
    from nasoa.meta.metamodel import MetaModel, default_model_dir, saved_grid
    from nasoa.zoo import profiled_records
    from nasoa.meta.predictors import BACKENDS

    if backend != "auto" and backend not in BACKENDS:
        raise NasoaError(f"unknown --backend {backend!r}; choose auto or one of {', '.join(BACKENDS)}")
    if online not in ("blend", "residual", "none"):
        raise NasoaError(f"unknown --online {online!r}; choose blend, residual or none")
    st = _store(store, must_exist=True)
    if st.count() == 0:
        raise NasoaError(f"the store {st.path} has no runs to fit on; run `nasoa meta collect` first")
    # A refit keeps the regime grid of the model it replaces (the shipped one searches lr 0.001 too);
    # --lrs and --input-sizes change that part of it.
    kept = saved_grid(model_dir if model_dir is not None else default_model_dir(st.path))
    mm = MetaModel.fit(st, zoo=profiled_records(), backend=backend, online=None if online == "none" else online,
                       seed=seed, grid=_grid(input_sizes, lrs, kept))
    path = mm.save(model_dir)
    grid = mm.grid.to_dict()
    summary = {"model_dir": str(path), "backend": mm.backend, "runs": mm.predictor.n_seen,
               "grid": grid, "grid_kept": kept is not None, "selection": mm.selection}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"fitted {mm.backend} on {summary['runs']} runs; saved to {path}")
        sides = ",".join(map(str, grid["input_sizes"])) if grid.get("input_sizes") else "profiled"
        origin = ""
        if kept is not None:
            changed = input_sizes is not None or lrs is not None
            origin = " (the grid of the model it replaced" + (", with --lrs/--input-sizes applied)" if changed else ")")
        typer.echo(f"  grid: lr {','.join(f'{r:g}' for r in grid['lrs'])}; input sides {sides}{origin}")
        for name, s in (mm.selection.get("table") or {}).items():
            typer.echo(f"  {name}: regret {s['regret']}, spearman {s['spearman']}, ndcg@3 {s['ndcg3']}")


def _ci(summary: dict) -> str:
    """A summary's 95% bootstrap interval of the regret, as printed beside it ('' without one)."""
    ci = summary.get("regret_ci")
    return f" [95%: {ci[0]}-{ci[1]}]" if ci else ""


@app.command("eval")
def eval_cmd(
    store: Path = STORE,
    folds: int = typer.Option(5, "--folds", min=2, max=50, help="Leave-tasks-out folds."),
    backends: list[str] = typer.Option(None, "--backend", help="Back-ends to evaluate (repeatable); default: "
                                                               "lgbm-regressor, lgbm-ranker, river, combo-blend and "
                                                               "the most-often-best baseline."),
    online: bool = typer.Option(False, "--online", help="Also compare the online combinations on the task stream."),
    plot: Path = typer.Option(None, "--plot", dir_okay=False, help="Write a predicted-vs-actual PNG here."),
    by: list[str] = typer.Option(None, "--by", help="family (leave one task family out: the primary metric) and/or "
                                                    "task (tasks held out in --folds folds); default: both."),
    seed: int = opt.SEED,
    input_sizes: str = INPUT_SIZES,
    lrs: str = LRS,
    as_json: bool = typer.Option(False, "--json", help="Print the full result (with per-task rows) as JSON."),
) -> None:
    """Leave-one-family-out and leave-tasks-out evaluation: per-task Spearman, top-1 regret, NDCG@3,
    each also per decision (a task at one budget, the choice `nasoa adapt` makes) and per family;
    where the store holds runs outside the regime grid (that of the store's fitted model, else the
    shipped model's; --lrs and --input-sizes change it), per decision among those adapt could pick."""
    from nasoa.app.experience import shipped_model
    from nasoa.meta.metamodel import MetaModel, default_model_dir, saved_grid
    from nasoa.zoo import profiled_records
    from nasoa.meta.predictors import make_predictor

    st = _store(store, must_exist=True)
    if backends:
        for b in backends:
            make_predictor(b)  # validates the name
    base = saved_grid(default_model_dir(st.path)) or saved_grid(shipped_model())
    mm = MetaModel(zoo=profiled_records(), store=st, seed=seed, grid=_grid(input_sizes, lrs, base))
    res = mm.evaluate(folds=folds, backends=backends or None, online=online, plot=plot,
                      by=tuple(by) if by else ("family", "task"))
    if as_json:
        typer.echo(json.dumps(res))
        return
    typer.echo(f"{res['runs']} runs on {res['tasks']} tasks of {res['families']} families")
    floor = res.get("regret_floor")
    if floor:
        typer.echo(f"luck's floor: a ranker that knew every run's expected accuracy would still pay a regret of "
                   f"{floor['regret']} (median {floor['regret_median']}) from validation sampling alone")
    dfloor = res.get("regret_floor_decision")
    if dfloor:
        typer.echo(f"  per decision (a task at one budget: what adapt chooses): {dfloor['regret']} "
                   f"over {dfloor['tasks']} decisions of 2+ runs")
    for key, what in (("leave_families_out", "one family held out at a time (primary)"),
                      ("leave_tasks_out", f"tasks held out in {res['folds']} folds")):
        if key not in res:
            continue
        typer.echo(what)
        for name, s in res[key].items():
            member = f" (wrong member {s['regret_member']})" if s.get("regret_member") is not None else ""
            typer.echo(f"  {name:16s} regret {s['regret']}{_ci(s)}{member}  spearman mean {s['spearman']} median "
                       f"{s['spearman_median']}  ndcg@3 {s['ndcg3']}  mae {s['mae']}")
            d = s.get("per_decision")
            if d:
                typer.echo(f"  {'':16s} per decision: regret {d['regret']}{_ci(d)} "
                           f"(wrong member {d['regret_member']})  "
                           f"spearman median {d['spearman_median']}  over {d['decisions']} decisions")
            o = s.get("per_decision_offered")
            if o:
                typer.echo(f"  {'':16s} per decision among the runs the grid offers (adapt's choices: "
                           f"{res.get('offered_runs')} of {res['runs']} runs): regret {o['regret']}{_ci(o)} "
                           f"over {o['decisions']} decisions")
                typer.echo(f"  {'':16s}   grid: lr {','.join(f'{r:g}' for r in mm.grid.lrs)}; input sides "
                           f"{','.join(map(str, mm.grid.input_sizes)) if mm.grid.input_sizes else 'profiled'}")
            for fam, fs in (s.get("families") or {}).items():
                fd = fs.get("per_decision") or {}
                typer.echo(f"    {fam:24s} {fs['tasks']:4d} tasks  regret {fs['regret']}  per decision "
                           f"{fd.get('regret', '-')}  spearman median {fs['spearman_median']}")
    for name, s in (res.get("online") or {}).items():
        typer.echo(f"  online {name:16s} regret {s['regret']}  spearman {s['spearman']}  ndcg@3 {s['ndcg3']}")
    if res.get("plot"):
        typer.echo(f"plot: {res['plot']}")


@app.command("show")
def show_cmd(
    store: Path = STORE,
    model_dir: Path = MODEL_DIR,
    top: int = typer.Option(20, "--top", min=1, max=1000, help="How many features to list."),
    as_json: bool = typer.Option(False, "--json", help="Print backend, online state and {feature: share of gain} "
                                                       "as JSON."),
) -> None:
    """The fitted meta-model: blend weights and each part's measured prequential error, what each part
    has learned (warm updates, refits, river's window), and feature importances (share of LightGBM's gain)."""
    from nasoa.meta.metamodel import MetaModel
    from nasoa.zoo import profiled_records

    mm = MetaModel.load(_store(store), zoo=profiled_records(), model_dir=model_dir)
    if not mm.predictor.n_seen:
        raise NasoaError(f"the meta-model of {mm.store.path} has learned no runs; collect some with `nasoa meta "
                         f"collect` (or `nasoa adapt`) and fit it with `nasoa meta fit`")
    imp = mm.feature_importances()
    online = mm.online_state()
    if imp is None and online is None:
        raise NasoaError(f"the meta-model ({mm.predictor.describe()}) has no feature importances: fit a LightGBM "
                         f"back-end with `nasoa meta fit`, on a store with runs")
    items = list((imp or {}).items())[:top]
    if as_json:
        typer.echo(json.dumps({"backend": mm.backend, "runs": mm.predictor.n_seen, "last_run_id": mm.last_run_id,
                               "online": online, "importances": dict(items)}))
        return
    typer.echo(f"{mm.backend}, {mm.predictor.n_seen} runs learned (up to store row {mm.last_run_id})")
    if online is not None:
        for line in _online_lines(online):
            typer.echo(line)
    if items:
        typer.echo("feature importances (share of LightGBM's split gain):")
    for name, share in items:
        typer.echo(f"  {share:7.2%}  {name}")


def _online_lines(s: dict) -> list[str]:
    """``MetaModel.online_state()`` as a few lines of text."""
    def num(v, fmt=".5f"):
        return "-" if v is None else format(v, fmt)

    out = []
    blend = s.get("blend")
    if blend is not None:
        w, mse = blend["weights"], blend.get("mse") or {}
        out.append(f"blend: LightGBM {w['lightgbm']:.3f}, river {w['river']:.3f} (least-squares weight on the "
                   f"prequential errors of the last {blend['scored_rows']} scored runs, window "
                   f"{blend['err_window']}; {blend['scored_total']} scored in all)")
        out.append(f"  mean squared error: LightGBM {num(mse.get('lightgbm'))}, river {num(mse.get('river'))}, "
                   f"blend {num(blend.get('blend_mse'))}")
    if "lightgbm" not in s:  # a LightGBM back-end on its own: its booster's state
        s = {"lightgbm": s, "river": None}
    lg, rv = s["lightgbm"], s["river"]
    bags = f" ({lg['bags']} bagged boosters)" if lg.get("bags", 1) > 1 else ""
    out.append(f"LightGBM: {lg['trees']} trees{bags} on {lg['rows']} runs; {lg['full_fits']} full fits (last on "
               f"{lg['rows_at_last_refit']} runs, {num(lg['last_fit_s'], '.2f')} s), {lg['warm_updates_since_refit']} "
               f"warm updates since ({lg['warm_trees']} trees), {lg['rows_pending']} runs pending"
               + ("; a full refit is due" if lg["refit_due"] else ""))
    if lg.get("pairwise_trees"):
        out.append(f"  pairwise part: {lg['pairwise_trees']} trees, fitted by the full fits outside a run's budget")
    if rv is not None:
        out.append(f"river: {rv['model']} on the last {rv['rows_in_model']} runs (window {rv['window']}, "
                   f"{rv['rebuilds']} rebuilds)")
    return out


@app.command("stats")
def stats_cmd(
    store: Path = STORE,
    as_json: bool = typer.Option(False, "--json", help='Print {"runs": N, "tasks": M, ...} as JSON.'),
) -> None:
    """How much experience the store holds: runs, tasks, models, budgets, accuracy range."""
    s = _store(store, must_exist=True).stats()
    if as_json:
        typer.echo(json.dumps(s))
        return
    acc = s["val_accuracy"]
    typer.echo(f"{s['path']}: {s['runs']} runs on {s['tasks']} tasks with {s['models']} models "
               f"({s['diverged']} diverged)")
    if s["runs"]:
        typer.echo(f"  val accuracy mean {acc['mean']:.4f} (min {acc['min']:.4f}, max {acc['max']:.4f})")
        typer.echo("  budgets: " + ", ".join(f"{b}s x{n}" for b, n in s["budgets"].items()))
    for k, v in s["counters"].items():
        typer.echo(f"  {k}: {v} sampled runs done")


@app.command("export")
def export_cmd(
    path: Path = typer.Argument(..., dir_okay=False, help="The parquet file to write."),
    store: Path = STORE,
) -> None:
    """Write every run to a parquet file (lossless; JSON columns as text)."""
    n = _store(store, must_exist=True).export_parquet(path)
    typer.echo(f"wrote {n} runs to {path}")


@app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A parquet file from `nasoa meta export`."),
    store: Path = STORE,
) -> None:
    """Append the runs of a parquet export (runs already in the store are skipped)."""
    n = _store(store).import_parquet(path)
    typer.echo(f"imported {n} new runs")


@app.command("upgrade")
def upgrade_cmd(
    store: Path = STORE,
    model_dir: Path = MODEL_DIR,
    seed: int = opt.SEED,
    as_json: bool = typer.Option(False, "--json", help='Print {"added": N, "runs": M, "refit": ...} as JSON.'),
) -> None:
    """Add the shipped experience runs the store lacks (a store seeded by an earlier nasoa keeps that
    version's experience) and refit its meta-model with the shipped back-end and regime grid. Your
    own runs stay; running it again does nothing."""
    from nasoa.app.experience import upgrade_store
    from nasoa.zoo import profiled_records

    st = _store(store)
    res = upgrade_store(st, zoo=profiled_records(), seed=seed, model_dir=model_dir)
    if as_json:
        typer.echo(json.dumps(res))
    elif res["refit"]:
        typer.echo(f"added {res['added']} shipped runs to {st.path} ({res['runs']} runs now); refitted "
                   f"{res['backend']}, saved to {res['model_dir']}")
    else:
        typer.echo(f"{st.path} already holds the shipped experience ({res['runs']} runs); nothing to do")


@app.command("ship")
def ship_cmd(
    store: Path = typer.Argument(..., dir_okay=False, help="The collected experience store (SQLite)."),
    dest: Path = typer.Option(None, "--dest", file_okay=False,
                              help="Output folder (default: shipped/ in the user data dir, which nasoa then reads "
                                   "instead of the package's experience; a maintainer passes meta/data)."),
    seed: int = opt.SEED,
    input_sizes: str = INPUT_SIZES,
    lrs: str = LRS,
) -> None:
    """Package a store as the shipped experience: its runs (parquet), a manifest, and the meta-model
    fitted on them, which seed every empty store."""
    from nasoa.meta.ship import ship
    from nasoa.zoo import profiled_records

    m = ship(store, dest, seed, zoo=profiled_records(), grid=_grid(input_sizes, lrs))
    typer.echo(f"shipped {m['runs']} runs on {m['tasks']} tasks to {m['dest']} ({m['model']['backend']})")
