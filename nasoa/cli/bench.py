"""``nasoa bench``: benchmark suites; results with provenance go to an output directory."""

from __future__ import annotations

import datetime
import json
import shlex
import sys
from pathlib import Path

import typer

from nasoa.core.errors import NasoaError
from nasoa.core.runtime import atomic_write_bytes, configure_torch_threads, parse_duration

from . import _options as opt

app = typer.Typer(help="Benchmarks (kernels, zoo, adapt) with provenance: machine, versions, date.", no_args_is_help=True)


def _out_dir(out: str | None, suite: str) -> Path:
    """``--out``, else ``bench/results/SUITE-<today>/``."""
    return Path(out or f"bench/results/{suite}-{datetime.date.today():%Y%m%d}")


def _durations(text: str) -> tuple[float, ...]:
    """Comma-separated durations (``30s,2m``) -> seconds."""
    return tuple(parse_duration(b) for b in text.split(",") if b.strip())


@app.command("kernels")
def kernels(
    out: str = typer.Option(None, "--out", help="Output directory (default bench/results/kernels-<device>-<date>/)."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto (cuda when available)."),
    dtype: str = typer.Option(
        "auto", "--dtype", help="float32, float16, bfloat16 or auto (float16 on GPU, float32 on CPU)."
    ),
    layout: str = typer.Option("channels_last", "--layout", help="channels_last or nchw."),
    mode: str = typer.Option("train", "--mode", help="train (batch statistics) or eval (frozen BatchNorm)."),
    repeats: int = typer.Option(20, "--repeats", min=3, max=1000, help="Timed samples per row (median and IQR)."),
    warmup: int = typer.Option(5, "--warmup", min=1, max=1000, help="Untimed calls first (autotuning, compilation)."),
    quick: bool = typer.Option(False, "--quick", help="A few small shapes: a smoke run in seconds."),
    threads: int = typer.Option(None, "--threads", min=1, max=1024, help="torch CPU threads (default: torch's)."),
    compile_: bool = typer.Option(
        None, "--compile/--no-compile",
        help="Time torch.compile too (default: on GPU only; a cold compile costs ~60 s per shape on CPU).",
    ),
) -> None:
    """Fused BatchNorm + residual + ReLU vs unfused eager vs torch.compile: ms, GB/s, % of copy bandwidth."""
    if dtype not in ("auto", "float32", "float16", "bfloat16"):
        raise NasoaError(f"--dtype {dtype!r} is not one of auto, float32, float16, bfloat16")
    if layout not in ("channels_last", "nchw"):
        raise NasoaError(f"--layout {layout!r} is not one of channels_last, nchw")
    if mode not in ("train", "eval"):
        raise NasoaError(f"--mode {mode!r} is not one of train, eval")
    import torch

    if device != "auto":
        try:
            dev = torch.device(device)
        except (RuntimeError, ValueError):
            raise NasoaError(f"--device {device!r} is not a device; use cpu, cuda, cuda:N or auto") from None
        if dev.type not in ("cpu", "cuda"):
            raise NasoaError(f"--device {device!r}: the kernel bench runs on cpu or cuda")
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise NasoaError(f"--device {device!r} but no CUDA GPU is visible; use --device cpu")
    if threads is not None:
        torch.set_num_threads(threads)
    from nasoa.bench import kernels as kb

    shapes = kb.QUICK_SHAPES if quick else kb.SHAPES
    result = kb.run(
        shapes, device=device, dtype=dtype, layout=layout, training=mode == "train", repeats=repeats,
        warmup=warmup, compile_=compile_, progress=lambda msg: typer.echo(f"  {msg}", err=True),
    )
    path = kb.write_results(result, Path(out) if out else None)
    if not result["gpu_measured"]:
        typer.echo("note: no GPU here: the Triton path needs a GPU, its speed is unmeasured (torch paths timed on CPU)")
    typer.echo(kb.to_markdown(result).split("\n\n", 1)[1].strip())
    typer.echo(f"wrote {path / 'kernels.json'} and {path / 'kernels.md'}")


@app.command("budgets")
def budgets(
    runs: int = typer.Option(20, "--runs", min=1, max=1000, help="How many random `nasoa train` runs."),
    min_budget: float = typer.Option(5.0, "--min-budget", min=1.0, help="Shortest budget a run draws, seconds."),
    max_budget: float = typer.Option(60.0, "--max-budget", min=1.0, help="Longest budget a run draws, seconds."),
    seed: int = typer.Option(0, "--seed", help="Draws the runs' tasks, regimes, budgets and seeds."),
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/train-budgets-<date>/)."),
) -> None:
    """Deadline adherence: wall/budget of many whole `nasoa train` processes (random tasks and regimes)."""
    from nasoa.bench.budgets import run

    d = _out_dir(out, "train-budgets")
    res = run(runs, d, seed=seed, min_budget=min_budget, max_budget=max_budget, log=typer.echo)
    s = res["summary"]
    typer.echo(f"max wall/budget {s['max_ratio']:.3f}, all within 1.05: {s['all_within_1.05']}; table: {d / 'budgets.md'}")


@app.command("zoo")
def zoo_bench(
    budgets: str = typer.Option("60s,120s,240s", "--budgets", help="Comma-separated training budgets."),
    members: list[str] = typer.Option(None, "--member", help="Zoo members to include (default: all ET-NAS members)."),
    search_dir: str = typer.Option(None, "--from-search", help="Benchmark this search's chosen front members instead."),
    n_members: int = typer.Option(6, "--members", min=1, help="With --from-search: how many, as `zoo pretrain` picks."),
    baselines: str = typer.Option(None, "--baselines", help="Comma-separated timm names (default: the four; 'none')."),
    no_members: bool = typer.Option(False, "--no-members", help="Only the baselines (to split the suite over cores)."),
    merge: list[str] = typer.Option(None, "--merge", help="Merge these result dirs into --out instead of running."),
    seed: int = typer.Option(0, "--seed", help="The source's split and test sample, and every run's initialisation."),
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/zoo-<date>/)."),
) -> None:
    """Zoo members vs timm baselines trained from scratch on the source under equal budgets."""
    from nasoa.bench.zoo import run

    bs = list(_durations(budgets))
    if not bs:
        raise NasoaError("--budgets needs at least one duration, e.g. 60s,120s")
    d = _out_dir(out, "zoo")
    if merge:
        from nasoa.bench.zoo import merge as merge_dirs

        merge_dirs([Path(m) for m in merge], d)
        typer.echo(f"merged {len(merge)} result dirs into {d / 'zoo.md'}")
        return
    base = () if baselines == "none" else (tuple(b.strip() for b in baselines.split(",")) if baselines else None)
    encodings = None
    if search_dir:
        from nasoa.app.search import SearchStore, pareto_front
        from nasoa.zoo.build import choose_members

        store = SearchStore(Path(search_dir) / "search.sqlite")
        chosen = choose_members(pareto_front(store.rows()), n_members)
        store.close()
        encodings = {f"etnas_z{i + 1}": r["encoding"] for i, r in enumerate(chosen)}
    res = run(bs, d, seed=seed, zoo_names=["__none__"] if no_members else (members or None), baselines=base,
              log=typer.echo, encodings=encodings)
    for c in res["ratios"]:
        typer.echo(f"{c['budget_s']:g}s {c['baseline']}: " + (
            f"{c['zoo_member']} matches at {c['step_time_ratio']}x faster steps" if c["zoo_member"] else "no zoo member matches"))
    typer.echo(f"table: {d / 'zoo.md'}, plot: {d / 'zoo.png'}")


@app.command("speed")
def speed(
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/train-speed-<date>/)."),
    repeats: int = typer.Option(15, "--repeats", min=3, max=1000, help="Timed steps per row (median)."),
) -> None:
    """Training images/s (ET-NAS vs resnet18 at 32 px, NCHW vs channels_last) and frozen-stage savings."""
    from nasoa.bench.speed import run

    configure_torch_threads()
    d = _out_dir(out, "train-speed")
    run(d, repeats=repeats, log=typer.echo)
    typer.echo(f"table: {d / 'speed.md'}")


@app.command("transfer")
def transfer(
    budget: str = typer.Option("30s", "--budget", help="Fine-tuning budget per run."),
    task: str = typer.Option("builtin:animal?per_class=300", "--task", help="A task outside the zoo's source."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated seeds: one run per member, seed and start."),
    members: list[str] = typer.Option(None, "--member", help="Members (default: every ET-NAS member)."),
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/transfer-<date>/)."),
) -> None:
    """Pretrained zoo members vs the same architectures from scratch, equal budget and regime."""
    from nasoa.bench.transfer import run

    try:
        seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError:
        seed_list = ()
    if not seed_list or min(seed_list) < 0:
        raise NasoaError(f"--seeds takes integers >= 0 separated by commas, e.g. 0,1,2; got {seeds!r}")
    d = _out_dir(out, "transfer")
    res = run(d, parse_duration(budget), seed_list, task, members or None, log=typer.echo)
    for s in res["summary"]:
        typer.echo(f"{s['member']}: pretrained {s['pretrained_mean']:.4f} vs scratch {s['scratch_mean']:.4f} ({s['gain']:+.4f})")
    typer.echo(f"table: {d / 'transfer.md'}")


@app.command("adapt")
def adapt_bench(
    budgets: str = typer.Option("30s,90s,300s", "--budgets", help="Comma-separated task budgets."),
    tasks: int = typer.Option(6, "--tasks", min=1, max=1000, help="Tasks in the generated stream (without --task)."),
    task: list[str] = typer.Option(
        None, "--task", help="A task's data spec (repeatable); replaces the generated stream, e.g. to bench on "
                             "held-out families."),
    tasks_from: str = typer.Option(
        None, "--tasks-from", help="A file of data specs, one per line (# comments); with --task, these come first."),
    seed_store: str = typer.Option(
        None, "--seed-store", help="Every row starts from a copy of this experience store (default: the shipped "
                                   "experience)."),
    hold_out_family: bool = typer.Option(
        False, "--hold-out-family", help="Each task's rows start from the snapshot without the task's family (its "
                                         "runs removed, the meta-model fitted without them)."),
    ratio_budgets: str = typer.Option("30s", "--ratio-budgets", help="Budgets at which BOHB's compute ratio is measured."),
    bohb_multiple: int = typer.Option(8, "--bohb-multiple", min=2, max=100, help="BOHB's budget for the ratio, x budget."),
    strategies: str = typer.Option(",".join(("nasoa", "practice", "default", "random", "logme", "bohb")),
                                   "--strategies", help="Comma-separated strategies to compare."),
    shard: str = typer.Option("1/1", "--shard", help="K/N: run the tasks with index % N == K-1 (N pinned processes "
                                                     "sharing one --out)."),
    report_only: bool = typer.Option(False, "--report-only", help="Rebuild adapt.md/png/json from the rows so far."),
    seed: int = typer.Option(0, "--seed", help="The generated stream; task i runs at seed + i."),
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/adapt-<date>/); a re-run resumes."),
    executor: str = opt.EXECUTOR,
    address: str = opt.ADDRESS,
    cpus_per_run: float = opt.CPUS_PER_RUN,
    gpus_per_run: float = opt.GPUS_PER_RUN,
    retries: int = opt.RETRIES,
) -> None:
    """All adapt strategies on the same tasks: test accuracy at equal budget (every row from the same
    store snapshot), nasoa minus practice and default, BOHB's compute to match nasoa. With --executor
    ray the rows are Ray tasks; this process alone writes the row files."""
    from nasoa.bench.adapt import parse_shard, read_tasks_file, report, run

    d = _out_dir(out, "adapt")
    if report_only:
        report(d)
        typer.echo(f"table: {d / 'adapt.md'}")
        return
    bs = _durations(budgets)
    rb = _durations(ratio_budgets)
    strat = tuple(s.strip() for s in strategies.split(",") if s.strip())
    specs = [*(read_tasks_file(tasks_from) if tasks_from else []), *(task or [])]
    k_n = parse_shard(shard)
    opt.check_executor(executor, address, cpus_per_run, gpus_per_run, retries)
    with opt.executor_from(executor, address, cpus_per_run, gpus_per_run, retries) as ex:
        run(d, bs, tasks, seed, rb, bohb_multiple, strat, k_n, log=typer.echo, tasks=specs or None,
            seed_store_from=seed_store, hold_out_family=hold_out_family, executor=ex)
    typer.echo(f"table: {d / 'adapt.md'}")


@app.command("stability")
def stability_bench(
    budgets: str = typer.Option("30s,90s", "--budgets", help="Comma-separated task budgets."),
    task: list[str] = typer.Option(None, "--task", help="A task's data spec (repeatable)."),
    tasks_from: str = typer.Option(
        None, "--tasks-from", help="A file of data specs, one per line (# comments); with --task, these come first."),
    seeds: int = typer.Option(5, "--seeds", min=2, max=100, help="Seeds per task and budget."),
    seed_store: str = typer.Option(
        None, "--seed-store", help="Every dry run starts from a copy of this experience store (default: the shipped "
                                   "experience)."),
    hold_out_family: bool = typer.Option(
        False, "--hold-out-family", help="Each task meets the snapshot without its family (as in bench adapt)."),
    shard: str = typer.Option("1/1", "--shard", help="K/N: run the tasks with index % N == K-1 (N pinned processes "
                                                     "sharing one --out)."),
    report_only: bool = typer.Option(False, "--report-only", help="Rebuild stability.md/json from the rows so far."),
    seed: int = typer.Option(0, "--seed", help="Task i's j-th seed is seed + i + 100 j (j = 0: bench adapt's row)."),
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/stability-<date>/; a bench adapt "
                                                "folder shares its snapshots); a re-run resumes."),
) -> None:
    """Does the one-shot pick hold when only --seed changes? `nasoa adapt --dry-run --no-learn` at
    several seeds per task and budget: the member each seed picks, and whether a different pick was
    tied with the usual one within the predictor's uncertainty."""
    from nasoa.bench.adapt import parse_shard, read_tasks_file
    from nasoa.bench.stability import run_stability, stability_report

    d = _out_dir(out, "stability")
    if report_only:
        stability_report(d)
        typer.echo(f"table: {d / 'stability.md'}")
        return
    bs = _durations(budgets)
    specs = [*(read_tasks_file(tasks_from) if tasks_from else []), *(task or [])]
    run_stability(d, specs, bs, seeds, seed, parse_shard(shard), hold_out_family, seed_store, log=typer.echo)
    typer.echo(f"table: {d / 'stability.md'}")


@app.command("noise")
def noise_bench(
    store: str = typer.Option(None, "--store", help="The experience store a collection wrote (nasoa meta collect "
                                                   "--store); only read."),
    per_family: int = typer.Option(2, "--per-family", min=1, max=1000, help="Tasks drawn from each task family."),
    min_runs: int = typer.Option(5, "--min-runs", min=2, help="Only tasks with at least this many runs."),
    shard: str = typer.Option("1/1", "--shard", help="K/N: run the tasks with index % N == K-1 (N pinned processes "
                                                     "sharing one --out)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto: where the re-runs train."),
    report_only: bool = typer.Option(False, "--report-only", help="Rebuild noise.md/json from the rows so far."),
    seed: int = typer.Option(0, "--seed", help="Draws the tasks and the replicates' run seeds."),
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/noise-<date>/); a re-run resumes."),
) -> None:
    """How much of a run's accuracy is luck? Every run of a sample of collected tasks run again with a
    fresh seed: the run-to-run noise, and the top-1 regret an oracle that saw each run once still pays
    (the floor for the meta-model's regret)."""
    from nasoa.bench.adapt import parse_shard
    from nasoa.bench.noise import noise_report, run_noise

    d = _out_dir(out, "noise")
    if report_only:
        noise_report(d)
        typer.echo(f"table: {d / 'noise.md'}")
        return
    if not store:
        raise NasoaError("--store is required: the experience store a collection wrote (nasoa meta collect --store)")
    run_noise(d, store, per_family, seed, parse_shard(shard), min_runs=min_runs, device=device, log=typer.echo)
    typer.echo(f"table: {d / 'noise.md'}")


@app.command("meta")
def meta_bench(
    runs: list[int] = typer.Option([10_000], "--runs", min=1, help="Runs in the synthetic store (repeatable: one row "
                                                                   "per size)."),
    candidates: int = typer.Option(2000, "--candidates", min=10, help="At least this many candidate regimes."),
    repeats: int = typer.Option(20, "--repeats", min=3, max=10000, help="Timed repeats (median and spread)."),
    import_repeats: int = typer.Option(3, "--import-repeats", min=0, max=100,
                                       help="Fresh processes timing the imports (0: skip)."),
    out: str = typer.Option(None, "--out", help="Output dir (default bench/results/meta-online-<date>/)."),
) -> None:
    """The meta-model's cost in a user's budget on a store of --runs runs: load (snapshot current, and with
    25 runs to catch up), ranking >= --candidates regimes, learning one run; one core, median of --repeats."""
    from nasoa.bench.meta import bench_meta, to_markdown

    d = _out_dir(out, "meta-online")
    command = "nasoa bench meta " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("meta") + 1:]) \
        if "meta" in sys.argv else "nasoa bench meta"
    results = [bench_meta(n, candidates, repeats, import_repeats=import_repeats, log=lambda s: typer.echo(s, err=True))
               for n in runs]
    atomic_write_bytes(d / "meta.json", (json.dumps({"command": command, "results": results}, indent=2,
                                                    default=str) + "\n").encode())
    atomic_write_bytes(d / "meta.md", to_markdown(results, command).encode())
    for r in results:
        typer.echo(f"{r['runs']} runs: load {r['load']['median_ms']} ms (cpu {r['load']['cpu_median_ms']}), rank "
                   f"{r['candidates']} candidates {r['rank']['median_ms']} ms (cpu {r['rank']['cpu_median_ms']}), "
                   f"learn {r['learn']['median_ms']} ms (max {r['learn']['max_ms']})")
    typer.echo(f"table: {d / 'meta.md'}")
