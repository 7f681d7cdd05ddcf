"""``nasoa stream``: a list of (data, budget) tasks in order, learning between them, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from . import _options as opt


def stream(
    tasks_file: Path = typer.Argument(..., help="One task per line: DATA BUDGET (e.g. builtin:digits 30s)."),
    out: Path = typer.Option(Path("runs/stream"), "--out", help="Stream dir (re-run to continue)."),
    strategy: str = typer.Option("nasoa", "--strategy", help="nasoa | default | random | logme | bohb."),
    store: Path = typer.Option(None, "--store", envvar="NASOA_STORE", help="Experience store (SQLite)."),
    seed: int = opt.SEED,
    device: str = opt.DEVICE,
    as_json: bool = opt.JSON,
) -> None:
    """Adapt to each task in turn with online learning; report accuracy and regret per task."""
    from nasoa.stream import run_stream

    res = run_stream(tasks_file, out, strategy=strategy, seed=seed, store=store, device=device,
                     log=None if as_json else typer.echo)
    if as_json:
        typer.echo(json.dumps(res, default=str))
        return
    typer.echo(f"{res['tasks']} tasks: mean accuracy {res['mean_accuracy']:.4f}, mean regret {res['mean_regret']:.4f}; "
               f"table {out / 'stream.md'}, plot {out / 'stream.png'}")
