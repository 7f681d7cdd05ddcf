"""``nasoa search``: the offline two-phase NAS (block level, then macro level)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from nasoa.core.runtime import parse_duration

from . import _options as opt
from ._common import command_start


def search(
    out: Path = typer.Option(Path("runs/search"), "--out", help="Search dir: table, front, plot. Re-run to continue."),
    budget: str = typer.Option("1h", "--budget", "-b", help="Hard wall-clock budget for this run of the search."),
    source: str = typer.Option(None, "--source", help="Proxy data (default MNIST+Fashion-MNIST subsample, 32 px)."),
    proxy_epochs: float = typer.Option(None, "--proxy-epochs", min=0.1, help="Proxy training epochs per candidate (default 3)."),
    proxy_budget: str = typer.Option(None, "--proxy-budget", help="Time cap of a candidate's proxy training (default 45s)."),
    block_candidates: int = typer.Option(None, "--block-candidates", min=1, help="Candidates in the block phase."),
    macro_candidates: int = typer.Option(None, "--macro-candidates", min=0, help="Candidates in the macro phase."),
    max_params: int = typer.Option(None, "--max-params", min=1000, help="Reject candidates with more parameters."),
    max_step_ms: float = typer.Option(None, "--max-step-ms", min=1.0, help="Reject candidates with slower steps."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Local worker processes (--executor local)."),
    seed: int = opt.SEED,
    executor: str = opt.EXECUTOR,
    address: str = opt.ADDRESS,
    cpus_per_run: float = opt.CPUS_PER_RUN,
    gpus_per_run: float = opt.GPUS_PER_RUN,
    retries: int = opt.RETRIES,
) -> None:
    """Search the ET-NAS space for the Pareto front of proxy accuracy vs measured step time.
    With --executor ray the candidates are Ray tasks; this process alone writes search.sqlite."""
    from nasoa.app.executor import ProcessExecutor
    from nasoa.app.search import SearchConfig, SearchStore, run_search

    start = command_start()
    budget_s = parse_duration(budget)
    overrides = {
        "source": source, "block_candidates": block_candidates, "macro_candidates": macro_candidates,
        "max_params": max_params, "max_step_ms": max_step_ms, "proxy_epochs": proxy_epochs,
        "proxy_budget_s": parse_duration(proxy_budget) if proxy_budget else None,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    existing = (out / "search.sqlite").exists() and SearchStore(out / "search.sqlite").config()
    if existing:
        cfg = SearchConfig.from_dict(existing)
        if overrides or seed != cfg.seed:
            cfg = replace(cfg, seed=seed, **overrides)  # run_search refuses a changed search
    else:
        cfg = replace(SearchConfig(seed=seed), **overrides)
    opt.check_executor(executor, address, cpus_per_run, gpus_per_run, retries)
    if executor.strip().lower() == "local":
        report = run_search(out, cfg, budget_s, ProcessExecutor(workers), log=typer.echo, start_time=start)
    else:
        with opt.executor_from(executor, address, cpus_per_run, gpus_per_run, retries) as ex:
            report = run_search(out, cfg, budget_s, ex, log=typer.echo, start_time=start)
    typer.echo(
        f"{report.evaluated} candidates in {out} ({report.new} new this run, {report.rejected} rejected, "
        f"{report.failed} failed) in {report.elapsed_s:.0f}s; stopped: {report.stop_reason}"
    )
    typer.echo(f"Pareto front ({len(report.front)}): {out / 'front.md'}, plot {out / 'front.png'}")
    for r in report.front:
        typer.echo(f"  {r['encoding']:<40} acc {r['accuracy']:.4f}  step {r['step_ms']:.1f} ms  {r['params'] / 1e6:.2f}M")
