"""``nasoa runs``: the run dirs under a folder, one row each."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _num(v, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, (int, float)) and v == v else "-"


def runs(
    folders: list[Path] = typer.Argument(None, help="Run dirs, or folders of them (default: runs)."),
    sort: str = typer.Option("created", "--sort", help="created, val (best first) or run."),
    as_json: bool = typer.Option(False, "--json", help="One JSON list on stdout."),
) -> None:
    """List run dirs: when, how it ended, the data, the model and regime, the budget and the time
    taken, epochs run and planned, the accuracy reached (balanced beside it where the validation
    classes differ in size) and what was exported. Reads the manifests only."""
    from nasoa.app.runs import list_runs

    rows, damaged = list_runs(list(folders or [Path("runs")]), sort=sort)
    for path in damaged:
        typer.echo(f"warning: skipped {path}: not readable as JSON (a damaged run dir)", err=True)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no run dirs found; `nasoa train` and `nasoa adapt` write them under runs/ (or --out)")
        return
    table = [("created", "run", "status", "by", "model", "regime", "val acc", "budget", "took", "epochs",
              "exported", "data")]
    for r in rows:
        reg = r["regime"]
        regime = (f"{reg['optimizer']} {reg['lr']:g} frozen {reg['frozen_stages']}" if reg.get("lr") is not None
                  else "-")
        if r["precision"] != "fp32":
            regime += f" {r['precision']}"
        epochs = _num(r["epochs"], ".1f") + (f"/{r['planned_epochs']:.1f}" if r["planned_epochs"] else "")
        acc = _num(r["val_accuracy"], ".4f")
        if r["val_balanced_accuracy"] is not None and r["val_balanced_accuracy"] != r["val_accuracy"]:
            acc += f" (bal {_num(r['val_balanced_accuracy'], '.4f')})"
        table.append(((r["created"] or "-")[:19].replace("T", " "), r["run"], str(r["status"]),
                      r["command"] + (f" {r['strategy']}" if r["strategy"] else ""), str(r["model"]), regime, acc,
                      _num(r["budget_s"], ".0f") + "s", _num(r["elapsed_s"], ".1f") + "s", epochs,
                      ",".join(r["exported"]) or "-", f"{r['data']} ({r['classes']} classes)"))
    # Plain columns, a line per run, the data (longest) last: readable in a terminal and greppable in a log.
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
