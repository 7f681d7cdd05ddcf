"""``nasoa stream``: a list of (data, budget) tasks in order, learning between them, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from . import _options as opt


def stream(
    tasks_file: Path = typer.Argument(..., help="One task per line: DATA BUDGET (e.g. builtin:digits 30s)."),
    out: Path = typer.Option(Path("runs/stream"), "--out", help="Stream dir (re-run to continue)."),
    strategy: str = typer.Option("nasoa", "--strategy", help="nasoa | default | random | logme | bohb | practice."),
    reference: str = typer.Option("practice", "--reference",
                                  help="What regret is measured against, run on each task and never learned from: "
                                       "practice (the common-practice baseline), grid (the best of practice, "
                                       "default and logme) or none."),
    oracle_grid: bool = typer.Option(False, "--oracle-grid", help="Same as --reference grid."),
    learn: bool = typer.Option(True, "--learn/--no-learn", help="--no-learn: record nothing, so the meta-model never "
                                                                "changes (the control of a learning curve)."),
    store: Path = typer.Option(None, "--store", envvar="NASOA_STORE", help="Experience store (SQLite)."),
    seed: int = opt.SEED,
    allow_outside: bool = opt.ALLOW_OUTSIDE,
    device: str = opt.DEVICE,
    as_json: bool = opt.JSON,
) -> None:
    """Adapt to each task in turn with online learning; report accuracy, regret against a reference the
    stream does not choose, and recommend time per task, with running means (stream.md, stream.png)."""
    from nasoa.app.stream import run_stream

    res = run_stream(tasks_file, out, strategy=strategy, seed=seed, store=store, device=device,
                     log=None if as_json else typer.echo, reference="grid" if oracle_grid else reference, learn=learn,
                     allow_outside=allow_outside)
    if as_json:
        typer.echo(json.dumps(res, default=str))
        return

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    typer.echo(f"{res['tasks']} tasks: mean accuracy {f(res['mean_accuracy'])}, mean regret {f(res['mean_regret'])} "
               f"(first 10 {f(res['mean_regret_first10'])}, last 10 {f(res['mean_regret_last10'])}); "
               f"table {out / 'stream.md'}, plot {out / 'stream.png'}")
